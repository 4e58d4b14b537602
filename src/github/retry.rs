//! When to try a GitHub call again, and how long to wait: bounded, jittered, honouring the
//! rate-limit headers GitHub documents. Pure, apart from the random jitter.

use std::time::Duration;

use http::HeaderMap;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Tries of one call, the first included.
    pub attempts: u32,
    /// Backoff base: try `n` waits a random time up to `base * 2^n`, capped at `cap`.
    pub base: Duration,
    pub cap: Duration,
    /// A rate-limit wait longer than this is not waited for: the call fails instead.
    pub max_wait: Duration,
    /// GitHub's advice for a secondary rate limit without `retry-after`: at least a minute.
    pub secondary_wait: Duration,
}

impl Policy {
    /// The production policy, with every duration scaled from `base` (1 s in production;
    /// tests shorten it through `ECR_PROMOTE_RETRY_BASE_MS`).
    pub fn with_base(base: Duration) -> Policy {
        Policy {
            attempts: 4,
            base,
            cap: base.saturating_mul(16),
            max_wait: base.saturating_mul(90),
            secondary_wait: base.saturating_mul(60),
        }
    }

    /// Full-jitter exponential backoff before try `attempt + 1` (`attempt` counts from 0).
    pub fn backoff(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cap);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::with_base(Duration::from_secs(1))
    }
}

/// A uniform random number in [0, 1) for jitter.
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long GitHub asks us to wait, when the answer is a rate limit; `None` when it is not one.
/// A rate-limited request was not processed, so it is always safe to send again.
pub fn rate_limit_wait(
    status: u16,
    headers: &HeaderMap,
    body: &str,
    now_epoch: u64,
    policy: &Policy,
) -> Option<Duration> {
    if status != 403 && status != 429 {
        return None;
    }
    if let Some(secs) = header_u64(headers, "retry-after") {
        return Some(Duration::from_secs(secs));
    }
    if header_u64(headers, "x-ratelimit-remaining") == Some(0)
        && let Some(reset) = header_u64(headers, "x-ratelimit-reset")
    {
        return Some(Duration::from_secs(reset.saturating_sub(now_epoch).max(1)));
    }
    let lower = body.to_ascii_lowercase();
    if status == 429 || lower.contains("secondary rate limit") || lower.contains("abuse") {
        return Some(policy.secondary_wait);
    }
    // Any other 403 (missing permission) is a refusal, not a limit.
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let p = Policy::default();
        assert_eq!(p.backoff(0, 1.0), Duration::from_secs(1));
        assert_eq!(p.backoff(3, 1.0), Duration::from_secs(8));
        assert_eq!(p.backoff(10, 1.0), p.cap);
        assert_eq!(p.backoff(2, 0.0), Duration::ZERO);
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }

    #[test]
    fn rate_limit_headers() {
        let p = Policy::default();
        let h = headers(&[("retry-after", "7")]);
        assert_eq!(
            rate_limit_wait(429, &h, "", 0, &p),
            Some(Duration::from_secs(7))
        );
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1030"),
        ]);
        assert_eq!(
            rate_limit_wait(403, &h, "", 1000, &p),
            Some(Duration::from_secs(30))
        );
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "900")]);
        assert_eq!(
            rate_limit_wait(403, &h, "", 1000, &p),
            Some(Duration::from_secs(1))
        );
        let body = r#"{"message":"You have exceeded a secondary rate limit."}"#;
        assert_eq!(
            rate_limit_wait(403, &HeaderMap::new(), body, 0, &p),
            Some(p.secondary_wait)
        );
        assert_eq!(
            rate_limit_wait(429, &HeaderMap::new(), "", 0, &p),
            Some(p.secondary_wait)
        );
        let denied = r#"{"message":"Resource not accessible by integration"}"#;
        assert_eq!(rate_limit_wait(403, &HeaderMap::new(), denied, 0, &p), None);
        assert_eq!(rate_limit_wait(500, &h, "", 0, &p), None);
    }
}
