//! IAM policy documents, generated from the declaration for one account, region and prefix:
//! each function role's least-privilege policy, the permissions boundary every function role
//! carries, and the policy of the identity that runs infra (`infra deployer-policy`).
//!
//! What keeps the deployer from becoming administrator: it may create or change a role only
//! when the role carries the boundary (`iam:PermissionsBoundary`), pass only the three function
//! roles and only to Lambda, never change the boundary once it exists, and never touch a
//! resource of another name. Checked by parliament in scripts/test (tests/infra/audit.rs).

use serde_json::{Value, json};
use system::names::STACK_TAG;
use system::{Function, System};

use crate::resources::{schedule, web};

/// Who may assume a function role: Lambda.
pub fn trust() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    })
}

/// One function role's inline policy: exactly its permissions, in this region.
pub fn role(sys: &System, f: &Function) -> Value {
    let statements: Vec<Value> = f
        .permissions
        .iter()
        .map(|p| {
            let resources: Vec<String> =
                p.resources.iter().map(|r| r.arn(&sys.options.region, &sys.options.account)).collect();
            json!({"Effect": "Allow", "Action": p.actions, "Resource": resources})
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The ceiling of every function role: what any of the functions may need, in any region (IAM
/// names are global, so one boundary serves a deploy in each region). A role that carries it
/// can do no more than this, whatever its own policy says.
pub fn boundary(sys: &System) -> Value {
    let statements: Vec<Value> = sys
        .functions
        .iter()
        .flat_map(|f| &f.permissions)
        .map(|p| {
            let resources: Vec<String> = p.resources.iter().map(|r| r.arn("*", &sys.options.account)).collect();
            json!({"Effect": "Allow", "Action": p.actions, "Resource": resources})
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The deploying identity's policy: every action infra calls, on this system's resources only.
pub fn deployer(sys: &System) -> Value {
    let (region, account, prefix) = (&sys.options.region, &sys.options.account, &sys.options.prefix);
    let stack = json!({"StringEquals": {format!("aws:ResourceTag/{STACK_TAG}"): sys.stack}});
    let roles: Vec<String> = sys.functions.iter().map(|f| sys.role_arn(&f.role)).collect();
    let functions: Vec<String> =
        sys.functions.iter().map(|f| format!("arn:aws:lambda:{region}:{account}:function:{}", f.name)).collect();
    let layers: Vec<String> =
        sys.functions.iter().map(|f| format!("arn:aws:lambda:{region}:{account}:layer:{}", f.code_layer)).collect();
    let layer_versions: Vec<String> = layers.iter().map(|l| format!("{l}:*")).collect();
    let log_groups: Vec<String> =
        sys.functions.iter().map(|f| format!("arn:aws:logs:{region}:{account}:log-group:{}", f.log_group)).collect();
    let identities: Vec<String> = [&sys.options.sender_email, &sys.options.recipient_email]
        .into_iter()
        .filter(|a| !a.is_empty())
        .map(|a| format!("arn:aws:ses:{region}:{account}:identity/{a}"))
        .collect();
    let tables: Vec<String> = [&sys.table, &sys.backups_table]
        .into_iter()
        .map(|t| format!("arn:aws:dynamodb:{region}:{account}:table/{t}"))
        .collect();
    let web_bucket = web::bucket_name(sys);
    let apigateway = |path: &str| format!("arn:aws:apigateway:{region}::{path}");
    let bucket_actions = json!([
        "s3:CreateBucket",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:DeleteBucket",
        "s3:GetBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        "s3:GetEncryptionConfiguration",
        "s3:PutEncryptionConfiguration",
        "s3:GetBucketVersioning",
        "s3:PutBucketVersioning",
        "s3:GetBucketPolicy",
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:GetBucketTagging",
        "s3:PutBucketTagging"
    ]);
    let statements = json!([
        {"Sid": "WhoAmI", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"},
        // The students and the catalog of backups.
        {"Sid": "Tables", "Effect": "Allow", "Resource": tables, "Action": [
            "dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable", "dynamodb:DeleteTable",
            "dynamodb:DescribeContinuousBackups", "dynamodb:UpdateContinuousBackups",
            "dynamodb:TagResource", "dynamodb:ListTagsOfResource",
            // restore, state, seed
            "dynamodb:Scan", "dynamodb:BatchWriteItem"
        ]},
        // The daily backup's rule and its target (the permission it needs is a Lambda one).
        {"Sid": "Schedule", "Effect": "Allow", "Resource": [schedule::rule_arn(sys)], "Action": [
            "events:PutRule", "events:DescribeRule", "events:DeleteRule", "events:PutTargets",
            "events:ListTargetsByRule", "events:RemoveTargets", "events:TagResource", "events:ListTagsForResource"
        ]},
        {"Sid": "Buckets", "Effect": "Allow", "Action": bucket_actions,
         "Resource": [format!("arn:aws:s3:::{}", sys.bucket), format!("arn:aws:s3:::{web_bucket}")]},
        {"Sid": "BucketObjects", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
         "Resource": [format!("arn:aws:s3:::{}/*", sys.bucket), format!("arn:aws:s3:::{web_bucket}/*")]},
        // CreateEmailIdentity takes no identity ARN in the IAM definitions auditors use, so the
        // new identity is scoped by the tag it must carry instead.
        {"Sid": "EmailIdentityCreate", "Effect": "Allow", "Action": ["ses:CreateEmailIdentity"], "Resource": "*",
         "Condition": {
            "StringEquals": {format!("aws:RequestTag/{STACK_TAG}"): sys.stack},
            "ForAllValues:StringEquals": {"aws:TagKeys": [STACK_TAG]}
         }},
        {"Sid": "EmailIdentities", "Effect": "Allow", "Resource": identities,
         "Action": ["ses:GetEmailIdentity", "ses:DeleteEmailIdentity", "ses:TagResource"]},
        // The boundary can be created and deleted, never changed: a deployer that could widen
        // it could widen every function role.
        {"Sid": "Boundary", "Effect": "Allow", "Resource": [sys.boundary_arn()], "Action": [
            "iam:CreatePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:TagPolicy", "iam:DeletePolicy"
        ]},
        {"Sid": "RolesWithTheBoundary", "Effect": "Allow", "Resource": roles.clone(),
         "Action": ["iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"],
         "Condition": {"ArnEquals": {"iam:PermissionsBoundary": sys.boundary_arn()}}},
        {"Sid": "Roles", "Effect": "Allow", "Resource": roles.clone(), "Action": [
            "iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:DeleteRole",
            "iam:UpdateAssumeRolePolicy", "iam:TagRole"
        ]},
        {"Sid": "PassTheFunctionRolesToLambda", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": roles,
         "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
        {"Sid": "Functions", "Effect": "Allow", "Resource": functions, "Action": [
            "lambda:CreateFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
            "lambda:UpdateFunctionConfiguration", "lambda:DeleteFunction", "lambda:TagResource",
            "lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy"
        ]},
        {"Sid": "FunctionCode", "Effect": "Allow", "Resource": layers, "Action": ["lambda:PublishLayerVersion"]},
        // Listing takes no resource.
        {"Sid": "FunctionCodeList", "Effect": "Allow", "Resource": "*", "Action": ["lambda:ListLayerVersions"]},
        {"Sid": "FunctionCodeVersions", "Effect": "Allow", "Resource": layer_versions,
         "Action": ["lambda:GetLayerVersion", "lambda:DeleteLayerVersion"]},
        {"Sid": "LogGroupsList", "Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": "*"},
        {"Sid": "LogGroups", "Effect": "Allow", "Resource": log_groups, "Action": [
            "logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DeleteLogGroup", "logs:TagResource",
            "logs:ListTagsForResource"
        ]},
        {"Sid": "ApiGatewayRead", "Effect": "Allow", "Action": ["apigateway:GET"], "Resource": [
            apigateway("/restapis"), apigateway("/restapis/*"), apigateway("/apikeys"), apigateway("/apikeys/*"),
            apigateway("/usageplans"), apigateway("/usageplans/*"), apigateway("/tags/*")
        ]},
        {"Sid": "ApiGatewayCreate", "Effect": "Allow", "Action": ["apigateway:POST"],
         "Resource": [apigateway("/restapis"), apigateway("/apikeys"), apigateway("/usageplans")]},
        // Within an API, key or plan: only those of this stack (API Gateway's child resources
        // are authorized with their API's tags).
        {"Sid": "ApiGatewayOwned", "Effect": "Allow",
         "Action": ["apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"],
         "Resource": [apigateway("/restapis/*"), apigateway("/apikeys/*"), apigateway("/usageplans/*")],
         "Condition": stack.clone()},
        {"Sid": "ApiGatewayAdoptByTagging", "Effect": "Allow", "Action": ["apigateway:PUT"], "Resource": [apigateway("/tags/*")]},
        {"Sid": "KeySecrets", "Effect": "Allow",
         "Resource": [format!("arn:aws:secretsmanager:{region}:{account}:secret:{prefix}{}*", system::names::SECRET)],
         "Action": [
            "secretsmanager:CreateSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
            "secretsmanager:DescribeSecret", "secretsmanager:DeleteSecret", "secretsmanager:TagResource"
        ]},
        {"Sid": "CloudFrontList", "Effect": "Allow", "Resource": "*", "Action": [
            "cloudfront:ListDistributions", "cloudfront:ListOriginAccessControls",
            "cloudfront:ListResponseHeadersPolicies", "cloudfront:CreateOriginAccessControl"
        ]},
        {"Sid": "CloudFrontCreate", "Effect": "Allow", "Resource": [format!("arn:aws:cloudfront::{account}:distribution/*")],
         "Action": ["cloudfront:CreateDistribution", "cloudfront:TagResource", "cloudfront:ListTagsForResource"]},
        {"Sid": "CloudFrontOwned", "Effect": "Allow", "Resource": [format!("arn:aws:cloudfront::{account}:distribution/*")],
         "Action": [
            "cloudfront:GetDistributionConfig", "cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution",
            "cloudfront:CreateInvalidation"
         ],
         "Condition": stack},
        {"Sid": "CloudFrontAccessControls", "Effect": "Allow",
         "Resource": [format!("arn:aws:cloudfront::{account}:origin-access-control/*")],
         "Action": ["cloudfront:GetOriginAccessControl", "cloudfront:DeleteOriginAccessControl"]},
        {"Sid": "CloudFrontHeaders", "Effect": "Allow",
         "Resource": [format!("arn:aws:cloudfront::{account}:response-headers-policy/*")],
         "Action": [
            "cloudfront:CreateResponseHeadersPolicy", "cloudfront:GetResponseHeadersPolicy",
            "cloudfront:UpdateResponseHeadersPolicy", "cloudfront:DeleteResponseHeadersPolicy"
         ]}
    ]);
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Every action a policy allows.
pub fn actions(policy: &Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use system::Options;

    fn system() -> System {
        System::new(Options {
            prefix: String::new(),
            stage: "prod".into(),
            region: "eu-west-1".into(),
            sender_email: "s@example.com".into(),
            recipient_email: "r@example.com".into(),
            allowed_origin: "*".into(),
            api_key_value: None,
            account: "123456789012".into(),
            log_retention_days: 90,
            backup_wait_seconds: 20,
            backup_schedule: None,
            student_email_domains: system::mail::StudentEmailDomains::any(),
        })
    }

    /// Every IAM action the tool calls (each action its sources name to `error::aws`) is in
    /// the generated deployer policy, so the documented permissions cannot fall behind the code.
    #[test]
    fn the_deployer_policy_covers_every_action_the_tool_calls() {
        let granted = actions(&deployer(&system()));
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut used = Vec::new();
        let mut dirs = vec![root.join("src")];
        while let Some(dir) = dirs.pop() {
            for path in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for piece in text.split("aws(\"").skip(1) {
                        used.push(piece.split('"').next().unwrap().to_owned());
                    }
                }
            }
        }
        assert!(used.len() > 40, "found only {used:?}");
        let missing: Vec<&String> = used.iter().filter(|a| !granted.contains(a)).collect();
        assert!(missing.is_empty(), "the deployer policy lacks {missing:?}");
    }

    #[test]
    fn the_deployer_cannot_change_the_boundary_or_pass_other_roles() {
        let policy = deployer(&system());
        let granted = actions(&policy);
        for forbidden in [
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:DeleteRolePermissionsBoundary",
            "iam:AttachRolePolicy",
            "lambda:UpdateFunctionCode",
            "lambda:InvokeFunction",
            "sts:AssumeRole",
        ] {
            assert!(!granted.iter().any(|a| a == forbidden), "{forbidden} is granted");
        }
        let pass =
            policy["Statement"].as_array().unwrap().iter().find(|s| s["Action"] == json!(["iam:PassRole"])).unwrap();
        assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"], "lambda.amazonaws.com");
        assert_eq!(pass["Resource"].as_array().unwrap().len(), 3);
        assert!(pass["Resource"][0].as_str().unwrap().ends_with(":role/getStudentData-eu-west-1"));
    }

    #[test]
    fn the_boundary_holds_every_role_policy() {
        let sys = system();
        let ceiling = actions(&boundary(&sys));
        for f in &sys.functions {
            for action in actions(&role(&sys, f)) {
                assert!(ceiling.contains(&action), "{action} of {} is above the boundary", f.name);
            }
        }
    }
}
