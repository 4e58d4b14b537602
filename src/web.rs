//! The HTTP seam of the deploy gates (a health URL, Argo CD's API): the trait, and a client
//! that reports every way a request can fail in words a person can act on.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};

use crate::text::{error_chain, format_duration};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAnswer {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// Why a request got no answer, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebError {
    Timeout(Duration),
    Dns(String),
    Tls(String),
    Refused(String),
    Other(String),
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebError::Timeout(d) => write!(f, "no answer within {}", format_duration(*d)),
            WebError::Dns(e) => write!(f, "the host name does not resolve (DNS): {e}"),
            WebError::Tls(e) => write!(
                f,
                "TLS failed (certificate not trusted, expired or for another host): {e}"
            ),
            WebError::Refused(e) => write!(f, "the connection was refused or reset: {e}"),
            WebError::Other(e) => write!(f, "{e}"),
        }
    }
}

/// The HTTP seam. Tests run it against local servers; nothing here is mocked in them.
pub trait Web {
    fn get(
        &self,
        url: &str,
        headers: &[(String, String)],
        insecure: bool,
        timeout: Duration,
    ) -> impl Future<Output = Result<WebAnswer, WebError>> + Send;
}

/// hyper with rustls; redirects are not followed, so a redirect is reported, not hidden. TLS
/// is set up on the first HTTPS request: a run without gates, or with plain-HTTP gates, loads
/// no certificates.
#[derive(Default)]
pub struct HttpWeb {
    strict: OnceLock<Result<Client, String>>,
    insecure: OnceLock<Result<Client, String>>,
}

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<Bytes>,
>;

impl HttpWeb {
    pub fn new() -> HttpWeb {
        HttpWeb::default()
    }

    fn client(&self, https: bool, insecure: bool) -> Result<Client, WebError> {
        let build = |config: Option<Arc<rustls::ClientConfig>>| -> Client {
            let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
            http.enforce_http(false);
            http.set_connect_timeout(Some(Duration::from_secs(5)));
            let builder = hyper_rustls::HttpsConnectorBuilder::new();
            // A plain-HTTP URL needs no roots: a configuration that is never used.
            let config = config.unwrap_or_else(crate::tls::plain);
            let connector = builder
                .with_tls_config((*config).clone())
                .https_or_http()
                .enable_http1()
                .wrap_connector(http);
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector)
        };
        if !https {
            static PLAIN: OnceLock<Client> = OnceLock::new();
            return Ok(PLAIN.get_or_init(|| build(None)).clone());
        }
        let cell = if insecure {
            &self.insecure
        } else {
            &self.strict
        };
        cell.get_or_init(|| {
            let config = if insecure {
                crate::tls::insecure()
            } else {
                Ok(crate::tls::verified())
            };
            config
                .map(|c| build(Some(c)))
                .map_err(|e| format!("could not set up TLS: {e}"))
        })
        .clone()
        .map_err(WebError::Tls)
    }
}

fn classify(chain: String) -> WebError {
    let lower = chain.to_ascii_lowercase();
    if lower.contains("dns")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        WebError::Dns(chain)
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        WebError::Tls(chain)
    } else if lower.contains("refused") || lower.contains("reset") {
        WebError::Refused(chain)
    } else {
        WebError::Other(chain)
    }
}

impl Web for HttpWeb {
    async fn get(
        &self,
        url: &str,
        headers: &[(String, String)],
        insecure: bool,
        timeout: Duration,
    ) -> Result<WebAnswer, WebError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| WebError::Other(format!("{url} is not a URL: {e}")))?;
        let client = self.client(uri.scheme_str() == Some("https"), insecure)?;
        let mut request = http::Request::get(uri).header(
            http::header::USER_AGENT,
            concat!("ecr-promote/", env!("CARGO_PKG_VERSION")),
        );
        for (k, v) in headers {
            request = request.header(k.as_str(), v.as_str());
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| WebError::Other(error_chain(&e)))?;
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| classify(error_chain(&e)))?;
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| classify(error_chain(&e)))?
                .to_bytes();
            Ok(WebAnswer {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
                location,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(WebError::Timeout(timeout)))
    }
}
