//! Queries of the customers' addresses (the `addresses` projection's
//! table), a page at a time, Relay's way.

use rusqlite::params;

/// One address as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRow {
    pub id: String,
    /// Its place in the list (a cursor names it).
    pub position: i64,
    pub is_default: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    pub country: Option<String>,
    pub zip: Option<String>,
    pub phone: Option<String>,
}

const COLUMNS: &str = "id, position, is_default, first_name, last_name, company, address1, \
                       address2, city, province, country, zip, phone";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AddressRow> {
    Ok(AddressRow {
        id: r.get(0)?,
        position: r.get(1)?,
        is_default: r.get(2)?,
        first_name: r.get(3)?,
        last_name: r.get(4)?,
        company: r.get(5)?,
        address1: r.get(6)?,
        address2: r.get(7)?,
        city: r.get(8)?,
        province: r.get(9)?,
        country: r.get(10)?,
        zip: r.get(11)?,
        phone: r.get(12)?,
    })
}

/// Which slice of a list to read, Relay's way: within the positions
/// strictly after `after` and before `before` (in the list's order, which
/// `reverse` turns around), the first `limit`, or the last with `from_end`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageRequest {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: u32,
    pub from_end: bool,
    pub reverse: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub has_previous: bool,
    pub has_next: bool,
}

impl crate::read::ReadModel {
    pub fn default_address(
        &self,
        project: &str,
        customer: &str,
    ) -> rusqlite::Result<Option<AddressRow>> {
        use rusqlite::OptionalExtension;
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM customer_addresses
                 WHERE project_id = ?1 AND customer_id = ?2 AND is_default = 1"
            ))?
            .query_row(params![project, customer], row)
            .optional()
        })
    }

    /// The customer's tags, as an admin set them.
    pub fn customer_tags(&self, project: &str, customer: &str) -> rusqlite::Result<Vec<String>> {
        use rusqlite::OptionalExtension;
        let json: Option<String> = self.with(|c| {
            c.prepare_cached(
                "SELECT tags FROM customer_tags WHERE project_id = ?1 AND customer_id = ?2",
            )?
            .query_row(params![project, customer], |r| r.get(0))
            .optional()
        })?;
        Ok(json
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default())
    }

    /// One address of the customer's (`None` for anyone else's).
    pub fn address(
        &self,
        project: &str,
        customer: &str,
        id: &str,
    ) -> rusqlite::Result<Option<AddressRow>> {
        use rusqlite::OptionalExtension;
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM customer_addresses
                 WHERE project_id = ?1 AND customer_id = ?2 AND id = ?3"
            ))?
            .query_row(params![project, customer, id], row)
            .optional()
        })
    }

    /// A page of the customer's addresses, oldest first (newest with
    /// `reverse`).
    pub fn addresses(
        &self,
        project: &str,
        customer: &str,
        page: PageRequest,
    ) -> rusqlite::Result<Page<AddressRow>> {
        // In the list's order, "after" is a greater position unless reversed.
        let (gt, lt, asc, desc) = if page.reverse {
            ("<", ">", "DESC", "ASC")
        } else {
            (">", "<", "ASC", "DESC")
        };
        let order = if page.from_end { desc } else { asc };
        let sql = format!(
            "SELECT {COLUMNS} FROM customer_addresses
             WHERE project_id = ?1 AND customer_id = ?2
               AND (?3 IS NULL OR position {gt} ?3) AND (?4 IS NULL OR position {lt} ?4)
             ORDER BY position {order} LIMIT ?5"
        );
        // Whether anything lies at or beyond a cursor, on its far side.
        let beyond = |op: &str| {
            format!(
                "SELECT EXISTS (SELECT 1 FROM customer_addresses
                 WHERE project_id = ?1 AND customer_id = ?2 AND position {op} ?3)"
            )
        };
        self.with(|c| {
            let mut rows = c
                .prepare_cached(&sql)?
                .query_map(
                    params![
                        project,
                        customer,
                        page.after,
                        page.before,
                        page.limit as i64 + 1
                    ],
                    row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = rows.len() > page.limit as usize;
            rows.truncate(page.limit as usize);
            if page.from_end {
                rows.reverse();
            }
            let exists = |sql: String, at: Option<i64>| -> rusqlite::Result<bool> {
                match at {
                    None => Ok(false),
                    Some(at) => c
                        .prepare_cached(&sql)?
                        .query_row(params![project, customer, at], |r| r.get(0)),
                }
            };
            let le = if page.reverse { ">=" } else { "<=" };
            let ge = if page.reverse { "<=" } else { ">=" };
            let (has_previous, has_next) = if page.from_end {
                (more, exists(beyond(ge), page.before)?)
            } else {
                (exists(beyond(le), page.after)?, more)
            };
            Ok(Page {
                rows,
                has_previous,
                has_next,
            })
        })
    }
}
