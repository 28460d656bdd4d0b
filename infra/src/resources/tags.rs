//! The stack tag: every resource infra makes carries `student-records:stack` = the stack
//! (the prefix, or `default`). `deploy` adopts what it finds by name and tags it; `destroy`
//! deletes only what carries the tag.

use std::collections::HashMap;

use system::names::STACK_TAG;

use crate::context::Ctx;
use crate::error::{Result, aws};
use crate::report::FieldChange;

/// The tag as a map, for the APIs that take one.
pub fn map(ctx: &Ctx) -> HashMap<String, String> {
    HashMap::from([(STACK_TAG.to_owned(), ctx.sys.stack.clone())])
}

/// The change that tagging would make, if the resource's current tag value is not the stack.
pub fn change(ctx: &Ctx, current: Option<&str>) -> Option<FieldChange> {
    (current != Some(ctx.sys.stack.as_str()))
        .then(|| FieldChange::optional(format!("tags.{STACK_TAG}"), current, &ctx.sys.stack))
}

/// Tags the API Gateway resource at `path` (`/restapis/ID`, `/apikeys/ID`, `/usageplans/ID`).
pub async fn tag_api_gateway(ctx: &Ctx, path: &str) -> Result<()> {
    let arn = format!("arn:aws:apigateway:{}::{path}", ctx.region);
    ctx.aws
        .apigateway
        .tag_resource()
        .resource_arn(&arn)
        .set_tags(Some(map(ctx)))
        .send()
        .await
        .map_err(|e| aws("apigateway:PUT", format!("/tags/{arn}"), e))?;
    Ok(())
}

/// Whether `current` (the resource's tag value) says infra made it for this stack.
pub fn ours(ctx: &Ctx, current: Option<&str>) -> bool {
    current == Some(ctx.sys.stack.as_str())
}

/// The value of the stack tag among `(key, value)` pairs.
pub fn value_in<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    pairs.into_iter().find(|(k, _)| *k == STACK_TAG).map(|(_, v)| v.to_owned())
}

/// What `destroy` says of a resource it will not delete because the tag is not there.
pub fn left_alone(ctx: &Ctx, kind: &str, name: &str) {
    ctx.report.left_alone(
        kind,
        name,
        &format!("not created by infra (no {STACK_TAG}={} tag), left alone", ctx.sys.stack),
    );
}
