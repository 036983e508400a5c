//! The whole report: findings grouped by part (a target, a source, the host), rendered
//! as a table for people or JSON for monitoring, and the exit code by worst verdict.

use serde::Serialize;
use writeback_core::{Finding, Verdict};

/// The findings about one part of the deployment.
#[derive(Clone, Debug, Serialize)]
pub struct Section {
    /// e.g. `target ad (active-directory)`, `source cloud (webhook)`, `host`.
    pub part: String,
    pub findings: Vec<Finding>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub sections: Vec<Section>,
}

impl Report {
    pub fn add(&mut self, part: impl Into<String>, findings: Vec<Finding>) {
        let part = part.into();
        match self.sections.iter_mut().find(|s| s.part == part) {
            Some(s) => s.findings.extend(findings),
            None => self.sections.push(Section { part, findings }),
        }
    }

    /// The worst verdict of any finding (`ok` for an empty report).
    pub fn worst(&self) -> Verdict {
        self.findings()
            .map(|(_, f)| f.verdict)
            .max()
            .unwrap_or(Verdict::Ok)
    }

    pub fn findings(&self) -> impl Iterator<Item = (&str, &Finding)> {
        self.sections
            .iter()
            .flat_map(|s| s.findings.iter().map(move |f| (s.part.as_str(), f)))
    }

    /// The first finding with this check name in this part (for tests and scripts).
    pub fn find(&self, part_prefix: &str, check: &str) -> Option<&Finding> {
        self.findings()
            .find(|(p, f)| p.starts_with(part_prefix) && f.check == check)
            .map(|(_, f)| f)
    }

    /// 0 all ok, 1 a warning, 2 a failure: monitoring can alert on the code alone.
    pub fn exit_code(&self) -> i32 {
        match self.worst() {
            Verdict::Ok => 0,
            Verdict::Warn => 1,
            Verdict::Fail => 2,
        }
    }

    pub fn to_json(&self) -> String {
        let summary = serde_json::json!({
            "worst": self.worst(),
            "ok": self.findings().filter(|(_, f)| f.verdict == Verdict::Ok).count(),
            "warn": self.findings().filter(|(_, f)| f.verdict == Verdict::Warn).count(),
            "fail": self.findings().filter(|(_, f)| f.verdict == Verdict::Fail).count(),
            "sections": self.sections,
        });
        serde_json::to_string_pretty(&summary).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A table for a terminal: one block per part, one line per check, the evidence
    /// and the fix indented below it.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let width = self
            .findings()
            .map(|(_, f)| f.check.len())
            .max()
            .unwrap_or(0);
        for section in &self.sections {
            out.push_str(&section.part);
            out.push('\n');
            for f in &section.findings {
                let mark = match f.verdict {
                    Verdict::Ok => " ok ",
                    Verdict::Warn => "WARN",
                    Verdict::Fail => "FAIL",
                };
                out.push_str(&format!("  [{mark}] {:width$}  {}\n", f.check, f.evidence));
                for line in f.fix.lines() {
                    out.push_str(&format!("         {:width$}  fix: {line}\n", ""));
                }
            }
        }
        let count = |v| self.findings().filter(|(_, f)| f.verdict == v).count();
        out.push_str(&format!(
            "\n{} ok, {} warning(s), {} failure(s)\n",
            count(Verdict::Ok),
            count(Verdict::Warn),
            count(Verdict::Fail)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_follows_the_worst_verdict() {
        let mut r = Report::default();
        assert_eq!(r.exit_code(), 0);
        r.add("host", vec![Finding::ok("a", "fine")]);
        assert_eq!(r.exit_code(), 0);
        r.add(
            "target x",
            vec![Finding::warn("b", "soon").with_fix("do it")],
        );
        assert_eq!(r.exit_code(), 1);
        r.add("host", vec![Finding::fail("c", "broken")]);
        assert_eq!(r.exit_code(), 2);
        assert_eq!(r.sections.len(), 2);
        let table = r.to_table();
        assert!(table.contains("[WARN] b"), "{table}");
        assert!(table.contains("fix: do it"), "{table}");
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["worst"], "fail");
        assert_eq!(json["warn"], 1);
        assert_eq!(json["sections"][1]["findings"][0]["fix"], "do it");
        assert_eq!(
            r.find("target", "b").map(|f| f.verdict),
            Some(Verdict::Warn)
        );
    }
}
