//! The project's audit log (the audit index), filtered and paged newest
//! first, Relay's way.

use rusqlite::{ToSql, params_from_iter};

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLogRow {
    pub seq: u64,
    pub idx: u32,
    pub customer_id: String,
    pub event_id: String,
    pub event_type: String,
    pub at: i64,
    pub actor: String,
    pub session_id: Option<String>,
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub command_id: String,
}

/// What the log is narrowed to; every part optional, all of them ANDed.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub customer_id: Option<String>,
    pub session_id: Option<String>,
    /// Any of these types (checked names).
    pub types: Option<Vec<String>>,
    /// `customer:`, `admin:` (prefixes) or `operator`, `system`,
    /// `anonymous` (whole labels).
    pub actor: Option<(String, bool)>,
    pub ip: Option<String>,
    /// Unix ms, inclusive.
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Which page: the `limit` newest entries older than `after`, or (with
/// `from_end`) the `limit` oldest entries newer than `before`, always
/// answered newest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditPage {
    pub after: Option<(u64, u32)>,
    pub before: Option<(u64, u32)>,
    pub limit: u32,
    pub from_end: bool,
}

impl crate::read::ReadModel {
    /// A page of the project's audit log, newest first, and whether there
    /// are more entries beyond it (older, or with `from_end` newer).
    pub fn audit_log(
        &self,
        project: &str,
        f: &AuditFilter,
        page: AuditPage,
    ) -> rusqlite::Result<(Vec<AuditLogRow>, bool)> {
        let mut clauses = vec!["project_id = ?".to_string()];
        let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(project.to_string())];
        if let Some(c) = &f.customer_id {
            clauses.push("customer_id = ?".into());
            args.push(Box::new(c.clone()));
        }
        if let Some(s) = &f.session_id {
            clauses.push("session_id = ?".into());
            args.push(Box::new(s.clone()));
        }
        if let Some(types) = &f.types {
            let marks = vec!["?"; types.len()].join(", ");
            clauses.push(format!("type IN ({marks})"));
            args.extend(types.iter().map(|t| Box::new(t.clone()) as Box<dyn ToSql>));
        }
        if let Some((actor, prefix)) = &f.actor {
            if *prefix {
                clauses.push("actor >= ? AND actor < ?".into());
                args.push(Box::new(actor.clone()));
                args.push(Box::new(format!("{actor}\u{10FFFF}")));
            } else {
                clauses.push("actor = ?".into());
                args.push(Box::new(actor.clone()));
            }
        }
        if let Some(ip) = &f.ip {
            clauses.push("ip = ?".into());
            args.push(Box::new(ip.clone()));
        }
        if let Some(from) = f.from {
            clauses.push("at >= ?".into());
            args.push(Box::new(from));
        }
        if let Some(to) = f.to {
            clauses.push("at <= ?".into());
            args.push(Box::new(to));
        }
        if let Some((seq, idx)) = page.after {
            clauses.push("(seq, idx) < (?, ?)".into());
            args.push(Box::new(seq as i64));
            args.push(Box::new(idx as i64));
        }
        if let Some((seq, idx)) = page.before {
            clauses.push("(seq, idx) > (?, ?)".into());
            args.push(Box::new(seq as i64));
            args.push(Box::new(idx as i64));
        }
        let order = if page.from_end { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT seq, idx, customer_id, event_id, type, at, actor, session_id, request_id,
                    ip, user_agent, command_id
             FROM audit WHERE {} ORDER BY seq {order}, idx {order} LIMIT {}",
            clauses.join(" AND "),
            page.limit as u64 + 1
        );
        let mut rows = self.with(|c| {
            c.prepare_cached(&sql)?
                .query_map(params_from_iter(args.iter().map(|a| a.as_ref())), |r| {
                    Ok(AuditLogRow {
                        seq: r.get::<_, i64>(0)? as u64,
                        idx: r.get(1)?,
                        customer_id: r.get(2)?,
                        event_id: r.get(3)?,
                        event_type: r.get(4)?,
                        at: r.get(5)?,
                        actor: r.get(6)?,
                        session_id: r.get(7)?,
                        request_id: r.get(8)?,
                        ip: r.get(9)?,
                        user_agent: r.get(10)?,
                        command_id: r.get(11)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let more = rows.len() > page.limit as usize;
        rows.truncate(page.limit as usize);
        if page.from_end {
            rows.reverse();
        }
        Ok((rows, more))
    }
}
