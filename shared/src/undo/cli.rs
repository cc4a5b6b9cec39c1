//! `remediation-undo [--dry-run] [--force] FILE|-`: puts a remediated resource back as it was before
//! the fix, from the message that reported it.
//!
//! For each message: read every recorded part of the resource as it is now; a part still as the fix
//! left it is restored, a part already as before needs nothing (so a second run changes nothing), and
//! a part changed since by someone else stops the undo (exit 3) unless `--force`. Exit codes: 0
//! restored, nothing left to restore, or `--dry-run`; 1 an AWS error; 2 unreadable input or
//! arguments; 3 refused because the resource changed. With several messages, the highest code.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::process::ExitCode;

use aws_config::{BehaviorVersion, Region, SdkConfig};

use super::aws::UndoActions;
use super::input::{requests, Request};
use super::restore::{cli_commands, judge_part, PartState};
use crate::outcome::ResourceType;

const USAGE: &str = "usage: remediation-undo [--dry-run] [--force] FILE|-

Puts a resource back as it was before a remediation, from the message that reported it: the JSON
document, or the SNS or SQS envelope it arrived in (FILE, or - for standard input).

  --dry-run  compare and print the calls it would make; change nothing
  --force    restore even parts that someone changed since the remediation

Exit codes: 0 restored or nothing left to restore (and --dry-run), 1 an AWS error,
2 unreadable input, 3 refused because the resource changed since the remediation.

Credentials and region come from the usual AWS sources; the message's own region is used.
With MEMBER_ROLE_NAME set, a message from another account is undone through that account's role.";

#[derive(Debug, PartialEq)]
pub struct Options {
    pub dry_run: bool,
    pub force: bool,
    pub input: String,
}

/// The command line; `Err` is what to print (usage or the mistake).
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        dry_run: false,
        force: false,
        input: String::new(),
    };
    for arg in args {
        match arg.as_str() {
            "--dry-run" => options.dry_run = true,
            "--force" => options.force = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other if other.starts_with("--") => {
                return Err(format!("unknown option {other}\n\n{USAGE}"))
            }
            other if options.input.is_empty() => options.input = other.to_string(),
            other => return Err(format!("one input only, not also {other}\n\n{USAGE}")),
        }
    }
    if options.input.is_empty() {
        return Err(USAGE.to_string());
    }
    Ok(options)
}

/// How one message ended, as an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Ending {
    Done = 0,
    AwsError = 1,
    Unreadable = 2,
    Refused = 3,
}

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(Ending::Unreadable as u8);
        }
    };
    let text = match read_input(&options.input) {
        Ok(text) => text,
        Err(message) => {
            eprintln!("remediation-undo: cannot read {}: {message}", options.input);
            return ExitCode::from(Ending::Unreadable as u8);
        }
    };
    let requests = match requests(&text) {
        Ok(requests) => requests,
        Err(message) => {
            eprintln!("remediation-undo: {message}");
            return ExitCode::from(Ending::Unreadable as u8);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("remediation-undo: {err}");
            return ExitCode::from(Ending::AwsError as u8);
        }
    };
    let ending = runtime.block_on(async {
        let mut worst = Ending::Done;
        for request in &requests {
            worst = worst.max(undo(request, &options).await);
        }
        worst
    });
    ExitCode::from(ending as u8)
}

fn read_input(input: &str) -> std::io::Result<String> {
    if input == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(input)
    }
}

async fn undo(request: &Request, options: &Options) -> Ending {
    let what = format!("{} {}", request.resource_type.noun(), request.resource_id);
    if request.restore.is_empty() {
        println!(
            "{what}: nothing to undo (the message is {:?} and records no change)",
            request.outcome
        );
        return Ending::Done;
    }
    let sdk = match sdk_config(request).await {
        Ok(sdk) => sdk,
        Err(message) => {
            eprintln!("{what}: {message}");
            return Ending::AwsError;
        }
    };
    let actions = UndoActions::from_sdk_config(&sdk);
    let restore = &request.restore;

    // Where each part the calls restore stands now.
    let parts: BTreeSet<&String> = restore.undo.iter().flat_map(|c| &c.restores).collect();
    let mut states: BTreeMap<&str, PartState> = BTreeMap::new();
    for part in parts {
        let current = match actions
            .read_part(request.resource_type, &request.resource_id, part)
            .await
        {
            Ok(current) => current,
            Err(err) if err.is_not_found() => {
                eprintln!("{what}: it no longer exists ({err}); nothing to restore");
                return Ending::Refused;
            }
            Err(err) => {
                eprintln!("{what}: reading its {part} failed: {err}");
                return Ending::AwsError;
            }
        };
        states.insert(
            part,
            judge_part(part, &restore.prior[part], &restore.after[part], &current),
        );
    }
    let changed: Vec<&String> = states
        .values()
        .filter_map(|s| match s {
            PartState::Changed(why) => Some(why),
            _ => None,
        })
        .collect();
    if !changed.is_empty() && !options.force {
        eprintln!("{what}: refused: it changed since the remediation, so restoring could undo someone else's change:");
        for why in &changed {
            eprintln!("  - {why}");
        }
        eprintln!("Run again with --force to restore it anyway.");
        return Ending::Refused;
    }
    let calls: Vec<_> = restore
        .undo
        .iter()
        .filter(|call| {
            call.restores
                .iter()
                .any(|part| states.get(part.as_str()) != Some(&PartState::AsBefore))
        })
        .collect();
    if calls.is_empty() {
        println!("{what}: already as it was before the remediation; nothing to restore");
        return Ending::Done;
    }
    let commands = cli_commands(
        &calls.iter().map(|c| (*c).clone()).collect::<Vec<_>>(),
        &request.region,
    );
    if options.dry_run {
        println!("{what}: would restore it with:");
        for command in &commands {
            println!("  {command}");
        }
        return Ending::Done;
    }
    for (call, command) in calls.iter().zip(&commands) {
        if let Err(err) = actions.call(call).await {
            eprintln!("{what}: {} failed: {err}", call.operation);
            eprintln!("  the call was: {command}");
            return Ending::AwsError;
        }
        println!("  {command}");
    }
    println!("{what}: restored as it was before the remediation");
    println!("{}", warning(request));
    Ending::Done
}

/// What a person must know after an undo: the resource is non-compliant again, and the remediation
/// acts on the next event, and the undo's own calls are such events.
fn warning(request: &Request) -> String {
    let exempt_tag =
        std::env::var("EXEMPT_TAG").unwrap_or_else(|_| "remediation:exempt".to_string());
    let since = crate::exemption::today();
    let how = match request.resource_type {
        ResourceType::SecurityGroup | ResourceType::Ec2Instance => format!(
            "aws ec2 create-tags --region {} --resources {} --tags 'Key={exempt_tag},Value=until=YYYY-MM-DD since={since} by=you reason'",
            request.region, request.resource_id
        ),
        ResourceType::S3Bucket | ResourceType::S3Object => format!(
            "add the tag {exempt_tag} (value: until=YYYY-MM-DD since={since} by=you reason) to bucket {}'s tag set",
            request.resource_id.split('/').next().unwrap_or_default()
        ),
        ResourceType::S3Account => {
            "deploy with BlockPublicAccess=true (account settings are enforced only under always)"
                .to_string()
        }
        // Never in a restore: nothing is changed in an account the function could not reach.
        ResourceType::AwsAccount => "nothing to exempt".to_string(),
    };
    format!(
        "Note: {} will fix it again on its next event or sweep (these calls are events too) unless it is exempt: {how}",
        if request.function.is_empty() { "the remediation" } else { &request.function }
    )
}

/// The SDK configuration for the message's region, and in organization mode the member role of the
/// message's account.
async fn sdk_config(request: &Request) -> Result<SdkConfig, String> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if !request.region.is_empty() {
        loader = loader.region(Region::new(request.region.clone()));
    }
    let sdk = loader.load().await;
    let role_name = std::env::var("MEMBER_ROLE_NAME").unwrap_or_default();
    if role_name.trim().is_empty() || request.account.is_empty() {
        return Ok(sdk);
    }
    let caller = aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| format!("cannot tell which account these credentials are in: {e}"))?;
    if caller.account() == Some(request.account.as_str()) {
        return Ok(sdk);
    }
    let partition = caller
        .arn()
        .and_then(|arn| arn.split(':').nth(1))
        .unwrap_or("aws");
    let role_arn = format!(
        "arn:{partition}:iam::{}:role/{}",
        request.account,
        role_name.trim()
    );
    let provider = aws_config::sts::AssumeRoleProvider::builder(&role_arn)
        .session_name("remediation-undo")
        .configure(&sdk)
        .build()
        .await;
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).credentials_provider(provider);
    if let Some(region) = sdk.region() {
        loader = loader.region(region.clone());
    }
    Ok(loader.load().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn arguments_are_read_or_the_usage_is_shown() {
        assert_eq!(
            parse_args(&args(&["--dry-run", "m.json"])),
            Ok(Options {
                dry_run: true,
                force: false,
                input: "m.json".into()
            })
        );
        assert!(parse_args(&args(&["--force", "-"])).unwrap().force);
        assert!(parse_args(&args(&[])).unwrap_err().starts_with("usage"));
        assert!(parse_args(&args(&["--yes", "m"]))
            .unwrap_err()
            .contains("unknown option --yes"));
        assert!(parse_args(&args(&["a", "b"]))
            .unwrap_err()
            .contains("one input only"));
    }
}
