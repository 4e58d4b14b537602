//! The deploy gates' inputs (health URL, Argo CD application), their time limits per
//! environment, and the wait for the dispatched run.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Lookup;
use super::grammar::{
    InputError, bad, one_line_name, parse_duration, parse_http_url, scalar_text, split_list,
};
use crate::model::Secret;
use crate::text::shown;

/// Time limits of gates and waits per environment; others get `Timeouts::DEFAULT`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeouts {
    pub limits: BTreeMap<String, Duration>,
}

impl Timeouts {
    pub const DEFAULT: Duration = Duration::from_secs(600);

    pub fn parse(value: &str) -> Result<Timeouts, InputError> {
        let mut limits = BTreeMap::new();
        for item in split_list(value) {
            let Some((env, duration)) = item.split_once('=') else {
                return Err(bad(
                    "timeouts",
                    format!(
                        "{} is not `environment=duration`, such as `qa=10m`",
                        shown(item)
                    ),
                ));
            };
            let duration = parse_duration("timeouts", duration)?;
            if limits.insert(env.to_string(), duration).is_some() {
                return Err(bad("timeouts", format!("`{env}` is listed twice")));
            }
        }
        Ok(Timeouts { limits })
    }

    pub fn of(&self, environment: &str) -> Duration {
        self.limits
            .get(environment)
            .copied()
            .unwrap_or(Self::DEFAULT)
    }
}

/// The health gate: poll a URL until it answers healthy `checks` times in a row.
#[derive(Debug, Clone)]
pub struct HealthGate {
    pub url: String,
    pub status: u16,
    pub body: Option<String>,
    /// Header values may be secrets: never printed.
    pub headers: Vec<(String, Secret)>,
    pub checks: u32,
    pub interval: Duration,
}

pub(crate) fn parse_health(src: &Lookup) -> Result<Option<HealthGate>, InputError> {
    let get = |name: &str| src.given(name);
    let Some(url) = get("health-url") else {
        // The runner passes action.yml's defaults (health-status: 200, ...) whether set or not:
        // only inputs without a default show that the user meant a health gate.
        for name in ["health-body", "health-headers"] {
            if get(name).is_some() {
                return Err(bad(
                    name,
                    "is set but `health-url` is not; set `health-url` too",
                ));
            }
        }
        return Ok(None);
    };
    let url = parse_http_url("health-url", &url)?;
    let v = src.value("health-status");
    let status = v
        .parse::<u16>()
        .ok()
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| {
            bad(
                "health-status",
                format!("{} is not an HTTP status (100 to 599)", shown(&v)),
            )
        })?;
    let v = src.value("health-checks");
    let checks = v
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=100).contains(n))
        .ok_or_else(|| {
            bad(
                "health-checks",
                format!("{} is not a number from 1 to 100", shown(&v)),
            )
        })?;
    let interval = parse_duration("health-interval", &src.value("health-interval"))?;
    let headers = match src.raw("health-headers") {
        None => Vec::new(),
        Some(text) => {
            let map: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|_| {
                bad(
                    "health-headers",
                    "is not a YAML or JSON mapping of header names to values",
                )
            })?;
            let Some(map) = map.as_mapping() else {
                return Err(bad(
                    "health-headers",
                    "must be a mapping of header names to values",
                ));
            };
            let mut out = Vec::new();
            for (k, v) in map {
                let (Some(k), Some(v)) = (k.as_str(), scalar_text(v)) else {
                    return Err(bad("health-headers", "names and values must be strings"));
                };
                if http::HeaderName::from_bytes(k.as_bytes()).is_err()
                    || http::HeaderValue::from_str(&v).is_err()
                {
                    // The value may be a secret: name the header only.
                    return Err(bad(
                        "health-headers",
                        format!("header `{}` is not a valid HTTP header", one_line_name(k)),
                    ));
                }
                out.push((k.to_string(), Secret::new(v)));
            }
            out
        }
    };
    Ok(Some(HealthGate {
        url,
        status,
        body: get("health-body"),
        headers,
        checks,
        interval,
    }))
}

/// The Argo CD gate.
#[derive(Debug, Clone)]
pub struct ArgoGate {
    pub server: String,
    pub app: String,
    /// `appNamespace`, for an application outside Argo CD's own namespace.
    pub namespace: Option<String>,
    pub token: Secret,
    pub insecure: bool,
}

pub(crate) fn parse_argocd(src: &Lookup) -> Result<Option<ArgoGate>, InputError> {
    let get = |name: &str| src.given(name);
    let Some(server) = get("argocd-server") else {
        for name in ["argocd-app", "argocd-token"] {
            if get(name).is_some() {
                return Err(bad(
                    name,
                    "is set but `argocd-server` is not; set `argocd-server` too",
                ));
            }
        }
        return Ok(None);
    };
    let server = parse_http_url("argocd-server", &server)?
        .trim_end_matches('/')
        .to_string();
    let app = get("argocd-app").ok_or_else(|| {
        bad(
            "argocd-app",
            "is required with `argocd-server`: the application's name",
        )
    })?;
    let (namespace, name) = match app.split_once('/') {
        Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
        None => (None, app.clone()),
    };
    let valid = |s: &str| {
        (1..=253).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    };
    if !valid(&name) || namespace.as_deref().is_some_and(|ns| !valid(ns)) {
        return Err(bad(
            "argocd-app",
            format!(
                "{} is not an application name (lower-case letters, digits, `-`, `.`; `namespace/name` for another namespace)",
                shown(&app)
            ),
        ));
    }
    let token = get("argocd-token").ok_or_else(|| {
        bad("argocd-token", "is required with `argocd-server`: an API token (argocd account generate-token), from a secret")
    })?;
    Ok(Some(ArgoGate {
        server,
        app: name,
        namespace,
        token: Secret::new(token),
        insecure: src.flag("argocd-insecure")?,
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    None,
    Started,
    Completed,
}

pub(crate) fn parse_wait_for(value: &str) -> Result<WaitFor, InputError> {
    match value.to_ascii_lowercase().as_str() {
        "none" => Ok(WaitFor::None),
        "started" => Ok(WaitFor::Started),
        "completed" => Ok(WaitFor::Completed),
        _ => Err(bad(
            "wait-for",
            format!("{} is not none, started or completed", shown(value)),
        )),
    }
}
