//! `authd events …`: read the event log as JSON lines, for debugging and
//! audits. Personal data is printed as stored (it is the operator's log).

use std::time::Duration;

use authd_events::{AggregateKind, AggregateSubject, RecordedMessage};
use clap::{Args, Subcommand};
use futures::StreamExt;
use serde_json::json;

#[derive(Args)]
pub struct EventsArgs {
    #[arg(long, env = "AUTHD_NATS_URL")]
    pub nats_url: String,
    /// The key-encryption key of customers' data keys (the services'
    /// --data-key-file); without it personal data shows sealed.
    #[arg(long, env = "AUTHD_DATA_KEY_FILE")]
    pub data_key_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: EventsCmd,
}

#[derive(Subcommand)]
pub enum EventsCmd {
    /// Print messages from a stream sequence on; with --follow, keep printing new ones.
    Tail {
        #[arg(long, default_value_t = 1)]
        from: u64,
        #[arg(long)]
        follow: bool,
        /// Only this project's messages.
        #[arg(long)]
        project: Option<String>,
    },
    /// Print one customer's history (their own aggregate).
    Customer {
        project: String,
        customer_id: String,
    },
    /// Print one session's history.
    Session { project: String, session_id: String },
    /// One customer's whole history (theirs, their sessions', their
    /// orders'), by id or email, oldest first, a readable line per event:
    /// time, sequence, type, actor, IP, user agent, request.
    Show { project: String, customer: String },
}

fn line(m: &RecordedMessage) -> String {
    json!({
        "seq": m.seq,
        "subject": m.subject.to_string(),
        "time": m.message.meta.time,
        "actor": format!("{:?}", m.message.meta.actor),
        "request": m.message.meta.request,
        "commandId": m.message.meta.command_id,
        "types": m.message.type_names(),
        "events": m.message.bodies().collect::<Vec<_>>(),
    })
    .to_string()
}

pub async fn run(args: EventsArgs) -> anyhow::Result<()> {
    let nats = crate::app::connect(&args.nats_url).await?;
    let store = crate::app::open_store(&nats).await?;
    let store = crate::app::tool_store(store, args.data_key_file.as_deref()).await?;
    match args.command {
        EventsCmd::Tail {
            from,
            follow,
            project,
        } => {
            let last = store.last_stream_sequence().await?;
            if !follow && from > last {
                return Ok(());
            }
            let stream = store.subscribe(from).await?;
            let mut stream = std::pin::pin!(stream);
            loop {
                let next = if follow {
                    stream.next().await
                } else {
                    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
                        Ok(n) => n,
                        Err(_) => {
                            anyhow::bail!("the stream stopped delivering before sequence {last}")
                        }
                    }
                };
                let Some(m) = next else { break };
                let m = m?;
                if project.as_deref().is_none_or(|p| p == m.subject.tenant) {
                    println!("{}", line(&m));
                }
                if !follow && m.seq >= last {
                    break;
                }
            }
        }
        EventsCmd::Customer {
            project,
            customer_id,
        } => {
            let subject = AggregateSubject::new(project, AggregateKind::Customer, customer_id)?;
            for m in store.read_aggregate(&subject).await? {
                println!("{}", line(&m));
            }
        }
        EventsCmd::Show { project, customer } => {
            let (_dir, read) = crate::admin_export::temp_read_model(&store).await?;
            let id = crate::admin_export::customer_id(&read, &project, &customer)?;
            let mut rows = Vec::new();
            let mut before = None;
            loop {
                let page = read.customer_events(&project, &id, before, 1000)?;
                let Some(last) = page.last() else { break };
                before = Some((last.seq, last.idx));
                let done = page.len() < 1000;
                rows.extend(page);
                if done {
                    break;
                }
            }
            rows.reverse();
            println!("history of {id} in {project}: {} events", rows.len());
            for r in rows {
                println!(
                    "{}  #{:<7} {:<40} {:<36} ip={} ua={} request={}{}",
                    authd_events::format_millis(r.at),
                    r.seq,
                    r.event_type,
                    r.actor,
                    r.ip.as_deref().unwrap_or("-"),
                    r.user_agent
                        .as_deref()
                        .map_or("-".to_string(), |u| format!("{u:?}")),
                    r.request_id,
                    r.session_id
                        .map(|s| format!(" session={s}"))
                        .unwrap_or_default(),
                );
            }
        }
        EventsCmd::Session {
            project,
            session_id,
        } => {
            let subject = AggregateSubject::new(project, AggregateKind::Session, session_id)?;
            for m in store.read_aggregate(&subject).await? {
                println!("{}", line(&m));
            }
        }
    }
    Ok(())
}
