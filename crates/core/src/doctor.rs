//! The report model of `writeback doctor`, shared by every connector that has checks
//! of its own: one [`Finding`] per check, with a [`Verdict`], the evidence seen and
//! the exact fix. Connectors return findings; the doctor renders and ranks them.

use serde::Serialize;

/// How bad a finding is. Ordered: the worst verdict decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    /// Works today, but something will break or is risky (expiry soon, a right
    /// missing on some OUs, an insecure setting).
    Warn,
    /// Does not work, or cannot be checked at all.
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        }
    }
}

/// One check's result. Never holds a password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable name, e.g. `tls.expiry`, `ad.rights`.
    pub check: String,
    pub verdict: Verdict,
    /// What was seen, in words a person can check.
    pub evidence: String,
    /// The exact step (command, config line) that fixes it; empty when nothing to do.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub fix: String,
}

impl Finding {
    pub fn new(check: impl Into<String>, verdict: Verdict, evidence: impl Into<String>) -> Self {
        Finding {
            check: check.into(),
            verdict,
            evidence: evidence.into(),
            fix: String::new(),
        }
    }

    pub fn ok(check: impl Into<String>, evidence: impl Into<String>) -> Self {
        Finding::new(check, Verdict::Ok, evidence)
    }

    pub fn warn(check: impl Into<String>, evidence: impl Into<String>) -> Self {
        Finding::new(check, Verdict::Warn, evidence)
    }

    pub fn fail(check: impl Into<String>, evidence: impl Into<String>) -> Self {
        Finding::new(check, Verdict::Fail, evidence)
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }
}

#[cfg(feature = "connectors")]
impl From<crate::traits::HealthCheck> for Finding {
    fn from(c: crate::traits::HealthCheck) -> Self {
        Finding::new(
            c.check,
            if c.ok { Verdict::Ok } else { Verdict::Fail },
            c.detail,
        )
    }
}

/// What a connector's checks may need to know from the doctor's command line.
#[derive(Clone, Debug)]
pub struct DoctorOptions {
    /// Certificates expiring within this many days are warned about.
    pub expiry_warn_days: u32,
    /// Clock skew beyond this many seconds is warned about (Kerberos allows 300).
    pub max_clock_skew_secs: u64,
    /// At most this many containers are sampled for rights.
    pub max_containers: usize,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            expiry_warn_days: 30,
            max_clock_skew_secs: 60,
            max_containers: 200,
        }
    }
}
