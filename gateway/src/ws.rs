//! The admin API's subscriptions over WebSocket (`GET /graphql/admin`
//! with `Sec-WebSocket-Protocol: graphql-transport-ws`, what graphql-ws,
//! Apollo and urql speak). The key goes in `connection_init`'s payload
//! (`{"authorization": "Bearer sk_…"}`; the operator adds
//! `"projectId"`). Close codes: 4408 no `connection_init` within 10 s,
//! 4401 anything else first, 4403 a bad key or one revoked while
//! connected (checked twice a second), 4400 a malformed message, 4406 the
//! protocol was not offered, 4413 a subscriber that reads so slowly that
//! `OUTBOX` messages wait for it, 4429 more than `MAX_SUBSCRIPTIONS` at
//! once. async-graphql runs the protocol itself once the key is known.

use std::{
    pin::pin,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use async_graphql::http::{WebSocket as GqlWebSocket, WebSocketProtocols, WsMessage};
use authd_events::RequestMeta;
use axum::{
    body::Body,
    extract::{
        ConnectInfo, FromRequestParts,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, Request},
    response::Response,
};
use futures::{SinkExt, StreamExt};
use serde_json::Value;

use crate::{
    admin::AdminContext,
    context::{bearer_credential, project_for_key},
    http::{Gateway, admin_context, request_meta},
};

const PROTOCOL: &str = "graphql-transport-ws";
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages waiting for a slow subscriber before it is cut off.
const OUTBOX: usize = 256;
/// Subscriptions one connection may hold at once.
const MAX_SUBSCRIPTIONS: usize = 20;
/// How often a connection's key is checked again.
const KEY_CHECK: Duration = Duration::from_millis(500);
/// How long one frame may take to reach a client.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest message a client may send.
const MAX_MESSAGE: usize = 64 * 1024;

/// `GET /graphql/admin`: a WebSocket upgrade, or else GraphiQL (dev).
pub async fn admin_get(gw: axum::extract::State<Gateway>, req: Request<Body>) -> Response {
    let (mut parts, _) = req.into_parts();
    let Ok(ws) = WebSocketUpgrade::from_request_parts(&mut parts, &()).await else {
        return crate::http::graphiql_admin(gw).await;
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let meta = request_meta(&gw.state, &parts.headers, peer);
    let offered = offers_protocol(&parts.headers);
    let gw = gw.0;
    ws.protocols([PROTOCOL])
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            if offered {
                serve(gw, socket, meta).await;
            } else {
                let mut socket = socket;
                let _ = socket
                    .send(close(
                        4406,
                        "Subprotocol not acceptable: use graphql-transport-ws",
                    ))
                    .await;
            }
        })
}

/// One subscription fewer (never below none).
fn release(active: &AtomicUsize) {
    let _ = active.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
}

fn offers_protocol(headers: &HeaderMap) -> bool {
    headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL)
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// The text of the next data frame (a binary one is read as UTF-8); `None`
/// when the client went away.
async fn next_text(socket: &mut futures::stream::SplitStream<WebSocket>) -> Option<String> {
    while let Some(Ok(m)) = socket.next().await {
        match m {
            Message::Text(t) => return Some(t.to_string()),
            Message::Binary(b) => return Some(String::from_utf8_lossy(&b).into_owned()),
            Message::Close(_) => return None,
            _ => {}
        }
    }
    None
}

/// Who the `connection_init` payload says the caller is.
fn authenticate(
    gw: &Gateway,
    payload: &Value,
    meta: RequestMeta,
) -> Option<(AdminContext, String)> {
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| payload.get(*n).and_then(Value::as_str))
            .map(str::to_string)
    };
    let auth = field(&["authorization", "Authorization"])?;
    let key = bearer_credential(&auth).unwrap_or(auth.trim()).to_string();
    let project = field(&["projectId", "x-project-id", "X-Project-Id"]);
    let ctx = admin_context(&gw.state, Some(&key), project.as_deref(), meta).ok()?;
    Some((ctx, key))
}

/// Whether the secret key a connection came with still holds.
fn still_valid(gw: &Gateway, project: &str, key: &str) -> bool {
    project_for_key(&gw.state, Some(key), "")
        .is_ok_and(|(p, kind)| p == project && kind == "secret")
}

async fn serve(gw: Gateway, socket: WebSocket, meta: RequestMeta) {
    let (mut sink, mut stream) = socket.split();
    let init = match tokio::time::timeout(INIT_TIMEOUT, next_text(&mut stream)).await {
        Err(_) => {
            let _ = sink
                .send(close(4408, "Connection initialisation timeout"))
                .await;
            return;
        }
        Ok(None) => return,
        Ok(Some(text)) => text,
    };
    let Ok(message) = serde_json::from_str::<Value>(&init) else {
        let _ = sink.send(close(4400, "Invalid message")).await;
        return;
    };
    if message["type"] != "connection_init" {
        let _ = sink.send(close(4401, "Unauthorized")).await;
        return;
    }
    let payload = message.get("payload").cloned().unwrap_or(Value::Null);
    let Some((ctx, key)) = authenticate(&gw, &payload, meta) else {
        let _ = sink
            .send(close(4403, "Forbidden: the key is not valid"))
            .await;
        return;
    };
    crate::metrics::request("admin_ws");
    let operator = ctx.operator;
    let project = ctx.inner.project_id.clone();
    let mut data = async_graphql::Data::default();
    data.insert(gw.state.clone());
    data.insert(ctx);

    // What the client sends, counted on the way to async-graphql.
    let (limit_tx, mut limit_rx) = tokio::sync::mpsc::channel::<(u16, &'static str)>(1);
    // Subscriptions open now: the client's `subscribe` adds one, its
    // `complete` or the server's (a subscription that ended or failed)
    // takes one away.
    let active = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = active.clone();
    let incoming = futures::stream::once(async move { init }).chain(
        futures::stream::unfold(stream, |mut s| async move {
            next_text(&mut s).await.map(|t| (t, s))
        })
        .map(move |text| {
            match serde_json::from_str::<Value>(&text)
                .ok()
                .as_ref()
                .and_then(|v| v["type"].as_str())
            {
                Some("subscribe") => {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
                Some("complete") => release(&counted),
                _ => {}
            }
            if counted.load(Ordering::Relaxed) > MAX_SUBSCRIPTIONS {
                let _ = limit_tx.try_send((4429, "Too many subscriptions on one connection"));
            }
            text
        }),
    );
    let protocol = WebSocketProtocols::GraphQLWS;
    let graphql = GqlWebSocket::new(gw.admin.clone(), incoming, protocol)
        .on_connection_init(move |_| async move { Ok(data) });

    // Frames go out through a bounded outbox: a client that does not read
    // fills it and is cut off, holding no more than it.
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<Message>(OUTBOX);
    let (close_tx, mut close_rx) = tokio::sync::oneshot::channel::<Message>();
    let writer = tokio::spawn(async move {
        loop {
            let m = tokio::select! {
                biased;
                c = &mut close_rx => match c { Ok(c) => c, Err(_) => break },
                m = out_rx.recv() => match m { Some(m) => m, None => break },
            };
            let last = matches!(m, Message::Close(_));
            match tokio::time::timeout(SEND_TIMEOUT, sink.send(m)).await {
                Ok(Ok(())) if !last => {}
                _ => break,
            }
        }
    });
    let mut graphql = pin!(graphql);
    let mut check = tokio::time::interval(KEY_CHECK);
    let ending = loop {
        tokio::select! {
            out = graphql.next() => match out {
                Some(WsMessage::Text(t)) => {
                    // async-graphql writes the tag first.
                    if t.starts_with("{\"type\":\"complete\"") {
                        release(&active);
                    }
                    if out_tx.try_send(Message::Text(t.into())).is_err() {
                        break Some(close(4413, "Subscriber too slow: it left too many messages unread"));
                    }
                }
                Some(WsMessage::Close(code, reason)) => break Some(close(code, &reason)),
                None => break None,
            },
            Some((code, reason)) = limit_rx.recv() => break Some(close(code, reason)),
            _ = check.tick(), if !operator => {
                if !still_valid(&gw, &project, &key) {
                    break Some(close(4403, "Forbidden: the key was revoked"));
                }
            }
        }
    };
    if let Some(c) = ending {
        let _ = close_tx.send(c);
    }
    drop(out_tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}
