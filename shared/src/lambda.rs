//! Running as a Lambda function: the one entry point every function binary calls ([`run`]), and the
//! start-up it does once per cold start (logging, settings, AWS configuration).

use std::future::Future;
use std::time::{Duration, Instant};

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

use crate::config::{Settings, SettingsError};
use crate::invocation::{handle_until, into_response, Deadline, Reach, Remediation};
use crate::notify::Notifier;
use crate::organization::Organization;
use crate::security_hub::SecurityHub;

pub use lambda_runtime::Error;

/// What a function does with one invocation's payload.
pub trait Function: Sync {
    fn invoke(
        &self,
        payload: Value,
        deadline: Deadline,
        notifier: &Notifier,
        reach: Reach<'_>,
    ) -> impl Future<Output = Result<Value, Error>> + Send;
}

/// Every remediation runs the shared invocation loop, and counts its outcomes in CloudWatch metrics.
impl<R: Remediation> Function for R {
    async fn invoke(
        &self,
        payload: Value,
        deadline: Deadline,
        notifier: &Notifier,
        reach: Reach<'_>,
    ) -> Result<Value, Error> {
        let result = handle_until(payload, self, notifier, reach, deadline).await;
        let report = match &result {
            Ok(report) => report,
            Err(failed) => &failed.report,
        };
        crate::metrics::emit(notifier.function(), &report.summary);
        into_response(result)
    }
}

/// Starts the function named `function`: JSON logs, settings (a bad value ends start-up with the
/// variable's name in the log), the SDK configuration, the notifier, then `build` makes the function
/// from the SDK configuration and the settings, and the Lambda runtime loop serves it.
pub fn run<F: Function>(
    function: &'static str,
    build: impl FnOnce(&SdkConfig, Settings) -> F,
) -> Result<(), Error> {
    let mut init = InitTimes::start();
    // Before any other thread starts: the environment is process-wide.
    crate::trust::read_the_bundle_only();
    // One thread: an invocation's calls wait on AWS together on it (joins, not threads), and a
    // function at 128 MB gets a fraction of one vCPU; worker threads would only cost start-up time.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            init.lap("runtime_ms");
            init_logging();
            init.lap("logging_ms");
            let settings = load_settings()?;
            init.lap("settings_ms");
            let sdk = load_aws_config().await;
            init.lap("sdk_config_ms");
            let notifier = Notifier::from_settings(&sdk, &settings, function);
            // Organization mode and fanned-out sweeps only: single-account functions start without it.
            let organization = (settings.organization != Default::default())
                .then(|| Organization::from_sdk_config(&sdk, &settings.organization, function));
            // Clients made on the first Security Hub finding only.
            let security_hub = SecurityHub::from_sdk_config(
                &sdk,
                settings.organization.member_role_name.clone(),
                function,
            );
            let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
            let version = std::env::var("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_default();
            let function = build(&sdk, settings);
            init.lap("clients_ms");
            init.log();
            // Boxed: the SDK's futures are deep, and unboxed they exceed the compiler's layout depth limit.
            Box::pin(lambda_runtime::run(service_fn(
                |event: LambdaEvent<Value>| {
                    let deadline = Deadline::from_lambda(&event.context);
                    crate::identity::learn_own_account(&event.context.invoked_function_arn);
                    // Every log line of the invocation names it, the function's version and its region
                    // (the account of each event is on the lines about it).
                    let span = tracing::info_span!(
                        "invocation",
                        requestId = %event.context.request_id,
                        function_version = %version,
                        region = %region,
                    );
                    function
                        .invoke(
                            event.payload,
                            deadline,
                            &notifier,
                            Reach {
                                organization: organization.as_ref(),
                                security_hub: Some(&security_hub),
                            },
                        )
                        .instrument(span)
                },
            )))
            .await
        })
}

/// Where a cold start's time goes before the function asks Lambda for its first event, logged once
/// as `started` (`make bench` reads it): the async runtime, logging, settings, the SDK configuration
/// (with the trusted CA certificates), and the clients. The time before `main` (loading the binary)
/// is not in it.
struct InitTimes {
    started: Instant,
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl InitTimes {
    fn start() -> Self {
        let now = Instant::now();
        InitTimes {
            started: now,
            last: now,
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.laps.push((phase, now - self.last));
        self.last = now;
    }

    fn log(&self) {
        let ms = |d: Duration| (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0;
        let phases = Value::Object(
            self.laps
                .iter()
                .map(|(phase, took)| (phase.to_string(), ms(*took).into()))
                .collect(),
        );
        tracing::info!(
            init_ms = ms(self.last - self.started),
            phases = %phases,
            "started"
        );
    }
}

/// JSON logs (one object per line, as CloudWatch and Lambda's JSON log format expect), each with the
/// invocation's request id.
/// Level from `RUST_LOG` (`info,aws_config=debug`: a level per crate) or `AWS_LAMBDA_LOG_LEVEL`, `info` by
/// default; the SDK's own chatter stays at `warn`. Per-crate levels only (`Targets`): the span and field
/// filters of `EnvFilter` would link a regular-expression engine into every binary for nothing.
pub fn init_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|l| l.to_lowercase())
        .unwrap_or_else(|| "info".to_string());
    let default = format!(
        "{level},aws_config=warn,aws_smithy_runtime=warn,aws_runtime=warn,hyper=warn,h2=warn,rustls=warn"
    );
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .or_else(|| default.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let json = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        // The runtime opens one span per invocation carrying the request id.
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false);
    let _ = tracing_subscriber::registry()
        .with(json.with_filter(filter))
        .try_init();
}

/// Reads the settings; a bad value is logged with the variable's name and ends start-up.
pub fn load_settings() -> Result<Settings, SettingsError> {
    Settings::from_env().inspect_err(|err| {
        tracing::error!(variable = err.variable, error = %err, "invalid setting: the function cannot start");
    })
}

/// Longest wait for one attempt of an AWS call (a page of 1,000 instances answers in a few seconds).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for an AWS call with all its retries: well inside the shortest function timeout (60 s).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(25);
/// The SDK's own default, kept when the others are set.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The SDK configuration from the standard sources (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL[_<SERVICE>]`),
/// with timeouts: the SDK sets none for an attempt or a whole call, so an endpoint that accepts a
/// connection and never answers would hold the function until Lambda kills it, unreported ("Configuring
/// timeouts in the AWS SDK for Rust"). A timed-out call is a transient error: Lambda retries the event.
pub async fn load_aws_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await
}

/// Whether requests to `service` go to an endpoint other than AWS's own (a local emulator).
/// `service_env` is the service's suffix in `AWS_ENDPOINT_URL_<SERVICE>`, e.g. `S3`.
pub fn endpoint_overridden(sdk: &SdkConfig, service_env: &str) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    sdk.endpoint_url().is_some()
        || set("AWS_ENDPOINT_URL")
        || set(&format!("AWS_ENDPOINT_URL_{service_env}"))
}
