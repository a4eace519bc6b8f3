//! `tradecloud send URL`: deliver a body to a webhook the way Tradecloud
//! does, to test a receiver (ours or anyone's).
//!
//! Tradecloud marks `2xx` as delivered, does not retry `4xx` nor `500`, and
//! retries every status code above 500 with exponential backoff. `send`
//! does the same (and also retries connection errors and timeouts) through
//! the crate's one retry loop ([`RetryPolicy::run`]), and prints each
//! attempt with its status and time.
//!
//! Exit status: 0 when delivered (2xx); 1 when refused (4xx, 500, or any
//! other status that is not retried) or when the attempts ran out.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Args;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use tradecloud::client::delivery::{deliver, Verdict};
use tradecloud::client::RetryPolicy;

/// Deliver a webhook body the way Tradecloud does: retry status codes above
/// 500 with exponential backoff, and stop on 2xx, 4xx or 500.
///
/// Credentials can also come from the environment (TRADECLOUD_SEND_BASIC,
/// TRADECLOUD_SEND_BEARER) so that they do not show in the process list.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Webhook URL, e.g. https://localhost:8443/tradecloud/order.
    pub url: String,
    /// Read the body from this file (at most 32 MiB, 33554432 bytes: the
    /// receiver's default max_body_bytes; a larger body is refused).
    #[arg(long, short = 'f', value_name = "BODY", conflicts_with = "stdin")]
    pub file: Option<PathBuf>,
    /// Read the body from standard input (at most 32 MiB, as --file).
    #[arg(long)]
    pub stdin: bool,
    /// HTTP method.
    #[arg(long, short = 'X', default_value = "POST", value_parser = ["POST", "PUT", "GET"], ignore_case = true)]
    pub method: String,
    /// Content type of the body (default: application/xml for a .xml file,
    /// application/json otherwise; none without a body).
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// Basic authentication.
    #[arg(
        long,
        value_name = "USER:PASS",
        env = "TRADECLOUD_SEND_BASIC",
        hide_env_values = true,
        conflicts_with = "bearer"
    )]
    pub basic: Option<String>,
    /// Bearer token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TRADECLOUD_SEND_BEARER",
        hide_env_values = true
    )]
    pub bearer: Option<String>,
    /// Do not verify the server certificate (for a --dev-tls receiver).
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// Trust this PEM certificate (for example a receiver's self-signed one).
    #[arg(long, value_name = "PEM")]
    pub cacert: Option<PathBuf>,
    /// Extra request header (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Attempts in all before giving up.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Delay before the first retry, in milliseconds; doubled for each
    /// further one. Each delay is a random time between half and all of it.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub backoff_ms: u64,
    /// Longest delay between attempts, in milliseconds (before the random part).
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub max_backoff_ms: u64,
    /// Timeout of one attempt, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
}

/// The retry policy of the arguments: `--max-attempts` in all,
/// exponential backoff from `--backoff-ms` up to `--max-backoff-ms`.
fn policy(args: &SendArgs) -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(args.max_attempts.saturating_sub(1))
        .base_delay(Duration::from_millis(args.backoff_ms))
        .max_delay(Duration::from_millis(args.max_backoff_ms))
}

/// What to do about a body over [`super::MAX_INPUT_BYTES`] (32 MiB, the
/// receiver's default `[server] max_body_bytes`; `--help` of `--file` names it).
const TOO_LARGE: &str = "a receiver with the default [server] max_body_bytes answers such a body \
     413, and Tradecloud's webhook bodies are far smaller; give a smaller body (to test a \
     receiver's 413, lower its max_body_bytes and send a body above that)";

/// The body from `--file` or `--stdin` (`None`: neither), at most
/// [`super::MAX_INPUT_BYTES`]; an empty one is sent, with a warning.
fn read_body(args: &SendArgs) -> anyhow::Result<Option<Vec<u8>>> {
    let body = if let Some(path) = &args.file {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?;
        super::read_bounded(file, &name, TOO_LARGE)?
    } else if args.stdin {
        super::read_bounded(std::io::stdin(), "standard input", TOO_LARGE)?
    } else {
        return Ok(None);
    };
    if body.is_empty() {
        let name = args
            .file
            .as_ref()
            .map_or_else(|| "standard input".to_owned(), |p| p.display().to_string());
        eprintln!(
            "warning: {name} is empty: Tradecloud never sends an empty webhook body; it is sent \
             anyway (a receiver should answer 400), so check the file if you meant to send an event"
        );
    }
    Ok(Some(body))
}

fn headers(args: &SendArgs, has_body: bool) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    let content_type = args.content_type.clone().or_else(|| {
        has_body.then(|| {
            let xml = args
                .file
                .as_ref()
                .and_then(|f| f.extension())
                .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
            if xml {
                "application/xml"
            } else {
                "application/json"
            }
            .to_string()
        })
    });
    if let Some(content_type) = content_type {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(&content_type).context("invalid --content-type")?,
        );
    }
    if let Some(basic) = &args.basic {
        if !basic.contains(':') {
            bail!("--basic takes USER:PASS");
        }
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(basic);
        let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    if let Some(token) = &args.bearer {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {token}")).context("invalid --bearer token")?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .with_context(|| format!("--header {header:?}: expected NAME: VALUE"))?;
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes())
                .with_context(|| format!("invalid header name {name:?}"))?,
            HeaderValue::from_str(value.trim())
                .with_context(|| format!("invalid value for header {name}"))?,
        );
    }
    Ok(headers)
}

fn client(args: &SendArgs) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout.max(1)))
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .min_tls_version(reqwest::tls::Version::TLS_1_2)
        .user_agent(concat!("tradecloud-send/", env!("CARGO_PKG_VERSION")));
    if args.insecure {
        builder = builder.danger_accept_invalid_certs(true);
    }
    if let Some(path) = &args.cacert {
        let pem = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("{}: invalid PEM", path.display()))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().context("cannot build the HTTP client")
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Run `tradecloud send`.
pub async fn run(args: SendArgs) -> anyhow::Result<()> {
    let url =
        reqwest::Url::parse(&args.url).with_context(|| format!("invalid URL {:?}", args.url))?;
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .context("invalid --method")?;
    let body = read_body(&args)?;
    let headers = headers(&args, body.is_some())?;
    let client = client(&args)?;
    let started = Instant::now();
    let max_attempts = args.max_attempts;
    let delivery = deliver(
        &policy(&args),
        &client,
        &method,
        &url,
        &headers,
        body.as_deref(),
        |attempt| {
            let prefix = format!("attempt {}/{max_attempts}", attempt.attempt);
            let show_body = || {
                if !attempt.body.is_empty() {
                    println!("{}", truncate(&attempt.body));
                }
            };
            let what = match (attempt.status, &attempt.error) {
                (Some(status), _) => format!("{status} in {}", millis(attempt.latency)),
                (None, Some(error)) => format!("{error} after {}", millis(attempt.latency)),
                (None, None) => format!("no answer after {}", millis(attempt.latency)),
            };
            match (attempt.verdict, attempt.retry_in) {
                (Verdict::Delivered, _) => {
                    println!("{prefix}: {what} — delivered");
                    show_body();
                }
                (Verdict::Refused, _) => {
                    println!("{prefix}: {what} — not retried");
                    show_body();
                }
                (Verdict::Retry, Some(delay)) => println!(
                    "{prefix}: {what} — retrying in {:.1} s",
                    delay.as_secs_f64()
                ),
                (Verdict::Retry, None) => println!("{prefix}: {what}"),
            }
        },
    )
    .await;
    let Some(last) = delivery.last() else {
        bail!("no attempt was made");
    };
    match (last.verdict, last.status) {
        (Verdict::Delivered, _) => Ok(()),
        (Verdict::Refused, Some(status)) => {
            bail!("delivery refused with {status} (Tradecloud does not retry it)")
        }
        _ => bail!(
            "not delivered after {} attempts in {:.1} s",
            last.attempt,
            started.elapsed().as_secs_f64()
        ),
    }
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(2000) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use tradecloud::client::delivery::verdict;

    #[test]
    fn retries_only_above_500() {
        assert_eq!(verdict(StatusCode::OK), Verdict::Delivered);
        assert_eq!(verdict(StatusCode::ACCEPTED), Verdict::Delivered);
        assert_eq!(verdict(StatusCode::BAD_REQUEST), Verdict::Refused);
        assert_eq!(verdict(StatusCode::UNAUTHORIZED), Verdict::Refused);
        assert_eq!(verdict(StatusCode::REQUEST_TIMEOUT), Verdict::Refused);
        assert_eq!(verdict(StatusCode::INTERNAL_SERVER_ERROR), Verdict::Refused);
        assert_eq!(verdict(StatusCode::NOT_IMPLEMENTED), Verdict::Retry);
        assert_eq!(verdict(StatusCode::BAD_GATEWAY), Verdict::Retry);
        assert_eq!(verdict(StatusCode::SERVICE_UNAVAILABLE), Verdict::Retry);
        assert_eq!(verdict(StatusCode::GATEWAY_TIMEOUT), Verdict::Retry);
    }

    /// The limit `--help` states is the one `send` applies.
    #[test]
    fn the_help_states_the_body_limit() {
        use clap::CommandFactory as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            send: SendArgs,
        }
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains(&super::super::MAX_INPUT_BYTES.to_string()),
            "{help}"
        );
        assert_eq!(
            super::super::MAX_INPUT_BYTES,
            32 << 20,
            "the help says 32 MiB"
        );
    }

    #[test]
    fn the_arguments_make_the_retry_policy() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            send: SendArgs,
        }
        let cli = Cli::parse_from([
            "send",
            "http://x/",
            "--max-attempts",
            "3",
            "--backoff-ms",
            "100",
        ]);
        let policy = policy(&cli.send);
        assert_eq!(policy.get_max_retries(), 2);
        let first = policy.backoff(0);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        assert!(policy.backoff(30) <= Duration::from_secs(60));
    }
}
