//! The EventBridge rules the scheduler runs, read from the control plane (the emulator, through
//! `aws-sdk-eventbridge`): the default bus's enabled rules that have a schedule expression, and
//! their targets.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::RuleState;

use crate::lambda::function_name;

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("EventBridge call {0} failed: {1}")]
    Call(&'static str, String),
    #[error("more than {0} pages of rules")]
    TooMany(usize),
}

fn call<E: std::fmt::Debug>(op: &'static str) -> impl FnOnce(E) -> RulesError {
    move |e| RulesError::Call(op, format!("{e:?}").chars().take(300).collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub arn: String,
    pub name: String,
    pub expression: String,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Lambda function, by name, with the target's constant `Input` when it has one (sent
    /// instead of the scheduled event, as EventBridge does).
    Function { name: String, input: Option<String> },
    /// A target the scheduler cannot run (another service, a transformed input): skipped.
    Unsupported { id: String, why: String },
}

/// Rules are read 100 a page; this many pages at most.
const MAX_PAGES: usize = 100;

pub struct Rules {
    client: Client,
}

impl Rules {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Every enabled rule with a schedule expression, with its targets.
    pub async fn read(&self) -> Result<Vec<Rule>, RulesError> {
        let mut rules = Vec::new();
        let mut token = None;
        for _ in 0..MAX_PAGES {
            let page =
                self.client.list_rules().limit(100).set_next_token(token).send().await.map_err(call("ListRules"))?;
            for rule in page.rules() {
                let (Some(name), Some(arn), Some(expression)) = (rule.name(), rule.arn(), rule.schedule_expression())
                else {
                    continue;
                };
                if rule.state() != Some(&RuleState::Enabled) {
                    continue;
                }
                let targets = self.targets(name).await?;
                rules.push(Rule {
                    arn: arn.to_owned(),
                    name: name.to_owned(),
                    expression: expression.to_owned(),
                    targets,
                });
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(rules);
            }
        }
        Err(RulesError::TooMany(MAX_PAGES))
    }

    /// A rule's targets: one page holds them all (EventBridge allows five a rule).
    async fn targets(&self, rule: &str) -> Result<Vec<Target>, RulesError> {
        let out =
            self.client.list_targets_by_rule().rule(rule).limit(100).send().await.map_err(call("ListTargetsByRule"))?;
        Ok(out.targets().iter().map(target).collect())
    }
}

fn target(t: &aws_sdk_eventbridge::types::Target) -> Target {
    let unsupported = |why: &str| Target::Unsupported { id: t.id().to_owned(), why: why.to_owned() };
    // arn:aws:lambda:<region>:<account>:function:<name>
    if t.arn().split(':').nth(2) != Some("lambda") {
        return unsupported("not a Lambda function");
    }
    if t.input_path().is_some() || t.input_transformer().is_some() {
        return unsupported("InputPath and InputTransformer are not supported");
    }
    match function_name(t.arn()) {
        Some(name) => Target::Function { name: name.to_owned(), input: t.input().map(str::to_owned) },
        None => unsupported("not a function ARN"),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_eventbridge::types::{InputTransformer, Target as SdkTarget};

    use super::*;

    fn sdk_target(arn: &str) -> aws_sdk_eventbridge::types::builders::TargetBuilder {
        SdkTarget::builder().id("t1").arn(arn)
    }

    #[test]
    fn lambda_targets_are_functions_by_name() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:BackupDynamoDBAndSendEmail";
        let plain = target(&sdk_target(arn).build().unwrap());
        assert_eq!(plain, Target::Function { name: "BackupDynamoDBAndSendEmail".into(), input: None });
        let with_input = target(&sdk_target(arn).input(r#"{"a":1}"#).build().unwrap());
        assert_eq!(
            with_input,
            Target::Function { name: "BackupDynamoDBAndSendEmail".into(), input: Some(r#"{"a":1}"#.into()) }
        );
    }

    #[test]
    fn other_targets_are_unsupported() {
        let queue = target(&sdk_target("arn:aws:sqs:us-east-1:123456789012:jobs").build().unwrap());
        assert!(matches!(queue, Target::Unsupported { .. }), "{queue:?}");
        let transformer = InputTransformer::builder().input_template("{}").build().unwrap();
        let transformed = target(
            &sdk_target("arn:aws:lambda:us-east-1:123456789012:function:f")
                .input_transformer(transformer)
                .build()
                .unwrap(),
        );
        assert!(matches!(transformed, Target::Unsupported { .. }), "{transformed:?}");
    }
}
