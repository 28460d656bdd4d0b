//! The SES identities: the sender, and the backup notices' recipient (the SES sandbox only
//! delivers to verified addresses). Creating one sends the verification email.
//!
//! Stacks may share an address: an identity carries the tag of the stack that made it, and
//! another stack uses it as it is (it tags only an identity that carries no stack tag).

use aws_sdk_sesv2::types::Tag;

use super::tags;
use crate::context::Ctx;
use crate::error::{Result, aws, found};
use crate::report::{Action, Change};
use crate::verify::Check;

const KIND: &str = "email-identity";

/// The declared addresses, once each.
pub fn addresses(ctx: &Ctx) -> Vec<String> {
    let mut addresses = vec![ctx.sys.options.sender_email.clone(), ctx.sys.options.recipient_email.clone()];
    addresses.retain(|a| !a.is_empty());
    addresses.dedup();
    addresses
}

/// An identity as it is: verified yet, and its stack tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub verified: bool,
    pub tag: Option<String>,
}

pub async fn read(ctx: &Ctx, address: &str) -> Result<Option<Live>> {
    let got = found(
        ctx.aws
            .ses
            .get_email_identity()
            .email_identity(address)
            .send()
            .await
            .map_err(|e| aws("ses:GetEmailIdentity", address, e)),
        &["NotFoundException"],
    )?;
    Ok(got.map(|g| Live {
        verified: g.verified_for_sending_status()
            || g.verification_status() == Some(&aws_sdk_sesv2::types::VerificationStatus::Success),
        tag: tags::value_in(g.tags().iter().map(|t| (t.key(), t.value()))),
    }))
}

/// Tagging an identity no stack has claimed (one made by hand, or by infra before tags).
fn adoption(ctx: &Ctx, live: &Live) -> Vec<crate::report::FieldChange> {
    if live.tag.is_some() { Vec::new() } else { tags::change(ctx, None).into_iter().collect() }
}

fn stack_tag(ctx: &Ctx) -> Tag {
    Tag::builder().key(system::names::STACK_TAG).value(&ctx.sys.stack).build().expect("complete")
}

fn arn(ctx: &Ctx, address: &str) -> String {
    format!("arn:aws:ses:{}:{}:identity/{address}", ctx.region, ctx.account)
}

pub async fn reconcile(ctx: &Ctx) -> Result<()> {
    for address in addresses(ctx) {
        let live = read(ctx, &address).await?;
        let action = match &live {
            None => Action::Create,
            Some(live) => Action::update(adoption(ctx, live)),
        };
        if ctx.applying() {
            let ses = &ctx.aws.ses;
            match action {
                Action::Create => {
                    ses.create_email_identity()
                        .email_identity(&address)
                        .tags(stack_tag(ctx))
                        .send()
                        .await
                        .map_err(|e| aws("ses:CreateEmailIdentity", address.clone(), e))?;
                }
                Action::Update(_) => {
                    ses.tag_resource()
                        .resource_arn(arn(ctx, &address))
                        .tags(stack_tag(ctx))
                        .send()
                        .await
                        .map_err(|e| aws("ses:TagResource", address.clone(), e))?;
                }
                Action::Unchanged => {}
            }
        }
        ctx.report.action(&action, KIND, &address);
    }
    Ok(())
}

/// Each identity exists; one that is not verified yet is a warning in words, not a failure
/// (the student is stored and the answer says `emailSent: false` until the link is clicked).
pub async fn checks(ctx: &Ctx) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    for address in addresses(ctx) {
        let live = read(ctx, &address).await?;
        let changes = live.as_ref().map(|l| adoption(ctx, l)).unwrap_or_default();
        let name = match &live {
            Some(l) if !l.verified => format!("{KIND} {address} exists (not verified yet: click the link SES sent)"),
            _ => format!("{KIND} {address} exists"),
        };
        checks.push(Check::declared(name, live.is_some(), &changes));
    }
    Ok(checks)
}

/// Deletes the identities of `addresses` that carry the stack tag.
pub async fn destroy(ctx: &Ctx, addresses: &[String]) -> Result<()> {
    for address in addresses {
        let Some(live) = read(ctx, address).await? else {
            ctx.report.record(Change::Gone, KIND, address);
            continue;
        };
        if !tags::ours(ctx, live.tag.as_deref()) {
            tags::left_alone(ctx, KIND, address);
        } else if !ctx.applying() {
            ctx.report.to_delete(KIND, address);
        } else {
            ctx.aws
                .ses
                .delete_email_identity()
                .email_identity(address)
                .send()
                .await
                .map_err(|e| aws("ses:DeleteEmailIdentity", address.clone(), e))?;
            ctx.report.record(Change::Deleted, KIND, address);
        }
    }
    Ok(())
}
