//! The OpenAPI 3 description of the API, served at `GET /v1/openapi.json`.
//! Tests check it documents exactly the routes in [`super::ROUTES`] and that
//! each of them is really routed.

use axum::Json;
use serde_json::{json, Value};

/// (method, path, summary, success status, response schema, request schema).
type Doc = (&'static str, &'static str, &'static str, &'static str, &'static str, Option<&'static str>);

const DOCS: &[Doc] = &[
    ("GET", "/healthz", "200 when every node is RUNNING, else 503 (no token needed)", "200", "Health", None),
    ("GET", "/v1/openapi.json", "This document", "200", "", None),
    ("GET", "/", "The web dashboard (HTML; its assets under /ui/; no token needed for the page itself)", "200", "html", None),
    (
        "GET",
        "/v1/status",
        "Every node (state, pid, uptime, RSS, CPU, restarts, role and slots as the node reports them) and the cluster state",
        "200",
        "StatusResponse",
        None,
    ),
    (
        "GET",
        "/v1/status/stream",
        "Server-sent events: `status` (a StatusResponse) every second, `faults`, `job` and `lab` (the run view) when they change",
        "200",
        "",
        None,
    ),
    (
        "POST",
        "/v1/session",
        "The dashboard trades the bearer token for an HttpOnly cookie (Set-Cookie slotd_token_PORT); no-op without a token",
        "200",
        "",
        None,
    ),
    ("GET", "/v1/nodes/{node}", "One node", "200", "NodeView", None),
    (
        "GET",
        "/v1/nodes/{node}/log",
        "Part of the node's log: the last `lines` lines, or from byte `offset` (follow with next_offset)",
        "200",
        "LogChunk",
        None,
    ),
    ("POST", "/v1/nodes/{node}/start", "Start the node(s); waits until RUNNING or FATAL", "200", "ActionResponse", None),
    (
        "POST",
        "/v1/nodes/{node}/stop",
        "SIGTERM, then SIGKILL after restart.stop_timeout_ms; the node stays STOPPED",
        "200",
        "ActionResponse",
        None,
    ),
    ("POST", "/v1/nodes/{node}/restart", "Stop then start", "200", "ActionResponse", None),
    (
        "POST",
        "/v1/nodes/{node}/kill",
        "Send a signal (default SIGKILL); a node killed this way stays down (EXITED)",
        "200",
        "ActionResponse",
        Some("KillRequest"),
    ),
    ("POST", "/v1/nodes/{node}/pause", "Freeze the node (SIGSTOP / in-process pause); sockets stay open", "200", "ActionResponse", None),
    ("POST", "/v1/nodes/{node}/resume", "Continue a paused node", "200", "ActionResponse", None),
    (
        "POST",
        "/v1/cluster/create",
        "Form the cluster (MEET, ADDSLOTSRANGE, REPLICATE) and wait for cluster_state:ok on every node",
        "200",
        "CreateReport",
        None,
    ),
    ("GET", "/v1/preflight", "Kernel and limit checks as seen by slotd", "200", "PreflightResponse", None),
    ("POST", "/v1/shutdown", "Stop every node gracefully, then exit slotd", "202", "ShutdownResponse", None),
    ("GET", "/v1/events", "The event timeline (`?after=SEQ` for newer ones) and a stopwatch per failover", "200", "EventsResponse", None),
    ("GET", "/v1/events/stream", "Server-sent events: past events after `?after=SEQ`, then live ones (data = Event JSON)", "200", "", None),
    ("GET", "/v1/faults", "Active faults and each builtin node's own SLOTD.FAULT STATUS", "200", "FaultsResponse", None),
    (
        "POST",
        "/v1/faults/partition",
        "Cut the cluster bus between groups of nodes (ports, names, master-of-slot-N); builtin engine only",
        "200",
        "FaultsResponse",
        Some("PartitionRequest"),
    ),
    ("POST", "/v1/faults/delay", "Delay a node's outgoing bus frames; builtin engine only", "200", "FaultsResponse", Some("DelayRequest")),
    (
        "POST",
        "/v1/faults/drop",
        "Drop a share of a node's outgoing bus frames; builtin engine only",
        "200",
        "FaultsResponse",
        Some("DropRequest"),
    ),
    ("POST", "/v1/faults/heal", "Remove every fault", "200", "FaultsResponse", None),
    ("GET", "/v1/lab/checkpoints", "Saved checkpoints", "200", "CheckpointList", None),
    (
        "POST",
        "/v1/lab/checkpoints",
        "SAVE every node, copy its data dir and nodes.conf into a checkpoint",
        "200",
        "CheckpointReport",
        Some("CheckpointRequest"),
    ),
    (
        "POST",
        "/v1/lab/checkpoints/{name}/restore",
        "Stop every node, put the checkpoint's data back, start the nodes that were running",
        "200",
        "CheckpointReport",
        None,
    ),
    ("GET", "/v1/lab/scenarios", "The lab scenarios with each one's last result", "200", "ScenarioList", None),
    (
        "POST",
        "/v1/lab/scenarios/{name}/run",
        "Run a scenario on a fresh cluster of its own (never this one); follow it at GET /v1/lab/run",
        "202",
        "RunView",
        Some("RunRequest"),
    ),
    ("GET", "/v1/lab/run", "The scenario run going on (narrative so far) or the last one; null before any", "200", "RunView", None),
    (
        "POST",
        "/v1/cluster/reshard",
        "Move slots from one master to another (background job; ?wait=true answers when done)",
        "202",
        "JobView",
        Some("ReshardRequest"),
    ),
    (
        "POST",
        "/v1/cluster/rebalance",
        "Even out slots by weight (background job; ?wait=true answers when done)",
        "202",
        "JobView",
        Some("RebalanceRequest"),
    ),
    (
        "POST",
        "/v1/cluster/fix",
        "Close slots left open by an interrupted move, assign unserved slots (background job)",
        "202",
        "JobView",
        None,
    ),
    (
        "GET",
        "/metrics",
        "Prometheus text format: per node up/state/role/keys/ops/clients/replication; cluster state, slots, failovers, events",
        "200",
        "text",
        None,
    ),
    (
        "GET",
        "/v1/cluster/job",
        "The running or last reshard/rebalance/fix job with its progress (null when none ran)",
        "200",
        "JobView",
        None,
    ),
    (
        "POST",
        "/v1/cluster/job/cancel",
        "Stop the running job after the batch in flight; its open slot is the checkpoint",
        "200",
        "JobView",
        None,
    ),
    ("GET", "/v1/cluster/check", "What redis-cli --cluster check verifies: agreement, coverage, open slots", "200", "CheckReport", None),
    ("GET", "/v1/cluster/slots", "The slot map: ranges per master, keys, replicas, open slots", "200", "SlotMap", None),
    (
        "POST",
        "/v1/cluster/nodes/add",
        "Meet an empty node into the cluster, as an empty master or a replica",
        "200",
        "MembershipReport",
        Some("AddNodeRequest"),
    ),
    (
        "GET",
        "/v1/cluster/plan",
        "Which nodes creation makes masters and which master each replica follows (anti-affinity by host)",
        "200",
        "Plan",
        None,
    ),
    (
        "POST",
        "/v1/hosts/{host}/isolate",
        "Cut a host off the other hosts (node and bus ports, both ways) with nftables; passed to that host's slotd",
        "200",
        "IsolationReport",
        None,
    ),
    ("POST", "/v1/hosts/{host}/heal", "Remove a host's isolation", "200", "IsolationReport", None),
    (
        "POST",
        "/v1/cluster/nodes/{node}/delete",
        "Remove a node owning no slots and no keys from the cluster",
        "200",
        "MembershipReport",
        None,
    ),
];

/// The paths and methods documented, for the consistency test.
pub fn documented() -> Vec<(String, String)> {
    DOCS.iter().map(|d| (d.0.to_string(), d.1.to_string())).collect()
}

fn node_param() -> Value {
    json!({
        "name": "node", "in": "path", "required": true,
        "description": "A port (6380), a name (node6380), or `all` for actions",
        "schema": {"type": "string"}
    })
}

fn error_response(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// Builds the document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, code, schema, request) in DOCS {
        let mut op = serde_json::Map::new();
        op.insert("summary".into(), json!(summary));
        let mut params = Vec::new();
        if path.contains("{node}") {
            params.push(node_param());
        }
        if path.ends_with("/log") {
            params.push(json!({"name": "lines", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}}));
            params.push(json!({"name": "offset", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}}));
        }
        if path.contains("{host}") {
            params.push(
                json!({"name": "host", "in": "path", "required": true, "description": "A [[hosts]] name", "schema": {"type": "string"}}),
            );
        }
        if path.contains("{name}") {
            let what = if path.contains("scenarios") { "Scenario name" } else { "Checkpoint name" };
            params.push(json!({"name": "name", "in": "path", "required": true, "description": what, "schema": {"type": "string"}}));
        }
        if path.starts_with("/v1/events") {
            params.push(json!({"name": "after", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}}));
        }
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(req) = request {
            op.insert(
                "requestBody".into(),
                json!({"required": false, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{req}")}}}}),
            );
        }
        let ok = if *schema == "html" {
            json!({"description": "OK", "content": {"text/html": {"schema": {"type": "string"}}}})
        } else if *schema == "text" {
            json!({"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}})
        } else if path.ends_with("/stream") {
            json!({"description": "OK", "content": {"text/event-stream": {"schema": {"type": "string"}}}})
        } else if schema.is_empty() {
            json!({"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}})
        } else {
            json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
        };
        let mut responses = serde_json::Map::new();
        responses.insert((*code).to_string(), ok);
        if *path == "/healthz" {
            responses.insert("503".into(), json!({"description": "Some node is not RUNNING", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}));
        }
        if path.contains("{node}") {
            responses.insert("404".into(), error_response("Unknown node; the message lists the known ones"));
        }
        if *method == "POST" && path.contains("{node}") {
            responses.insert("409".into(), error_response("Not possible in the node's state (e.g. kill a node that is not running)"));
            responses.insert("500".into(), error_response("The action failed"));
        }
        if request.is_some() || path.ends_with("/log") {
            responses.insert("400".into(), error_response("Invalid body or query"));
        }
        if path.starts_with("/v1/faults/") && *path != "/v1/faults/heal" {
            responses.insert("404".into(), error_response("A selector names no node"));
            responses.insert("409".into(), error_response("Not available with engine kind = redis-server"));
            responses.insert("500".into(), error_response("A node refused the fault command"));
        }
        if path.starts_with("/v1/lab/checkpoints") && *method == "POST" {
            responses.insert("404".into(), error_response("Unknown checkpoint"));
            responses.insert("409".into(), error_response("Checkpoint made for other nodes"));
            responses.insert("500".into(), error_response("SAVE, copy or restart failed"));
        }
        if path.contains("{host}") {
            responses.insert("404".into(), error_response("Unknown host"));
            responses.insert(
                "409".into(),
                error_response("Not a multi-host config, or nftables / CAP_NET_ADMIN unavailable (the message says which)"),
            );
            responses.insert("502".into(), error_response("The host's slotd does not answer"));
        }
        if path.starts_with("/v1/lab/scenarios/") {
            responses.insert("404".into(), error_response("Unknown scenario"));
            responses.insert("409".into(), error_response("Another scenario is still running"));
        }
        if *path == "/v1/cluster/create" {
            responses.insert("409".into(), error_response("Nodes not all RUNNING, or a creation is already running"));
            responses.insert("500".into(), error_response("Creation failed (message says at which step)"));
        }
        responses.insert("401".into(), error_response("Missing or wrong bearer token (when supervisor.api_token is set)"));
        op.insert("responses".into(), Value::Object(responses));
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        if let Value::Object(m) = entry {
            m.insert(method.to_ascii_lowercase(), Value::Object(op));
        }
    }
    let state_enum = json!({"type": "string", "enum": ["STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "PAUSED", "UNREACHABLE"]});
    let exit =
        json!({"type": ["object", "null"], "properties": {"code": {"type": ["integer", "null"]}, "signal": {"type": ["integer", "null"]}}});
    let s = |t: &str| json!({"type": t});
    let ns = |t: &str| json!({"type": [t, "null"]});
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "slotd API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Supervisor of a Redis Cluster on one machine. Errors are {\"error\": \"...\"} with a 4xx/5xx status."
        },
        "servers": [{"url": "http://127.0.0.1:6300"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": s("string"), "results": {"type": "array", "items": {"$ref": "#/components/schemas/ActionResult"}}}},
                "State": state_enum,
                "Health": {"type": "object", "properties": {"ok": s("boolean"), "nodes_running": s("integer"), "nodes_total": s("integer")}},
                "NodeView": {"type": "object", "properties": {
                    "name": s("string"), "host": s("string"), "port": s("integer"), "state": {"$ref": "#/components/schemas/State"},
                    "pid": ns("integer"), "uptime_s": ns("integer"), "restarts": s("integer"), "adopted": s("boolean"),
                    "last_exit": exit, "message": ns("string"), "role": ns("string"), "master_port": ns("integer"), "master_link": ns("string"),
                    "node_id": ns("string"), "slots": {"type": "array", "items": s("string")}, "cluster_state": ns("string"),
                    "rss_bytes": ns("integer"), "cpu_percent": ns("number"), "log": s("string"),
                    "ops_per_sec": ns("integer"), "connected_clients": ns("integer"), "keys": ns("integer"),
                    "repl_offset": {"type": ["integer", "null"], "description": "master_repl_offset of a master, slave_repl_offset of a replica"},
                    "master_last_io_s": ns("integer"),
                    "lag_bytes": {"type": ["integer", "null"], "description": "A replica's master offset minus its own"},
                    "lag_s": {"type": ["integer", "null"], "description": "Seconds since a replica heard from its master (-1: link down)"}
                }},
                "StatusResponse": {"type": "object", "properties": {
                    "slotd_pid": s("integer"), "slotd_uptime_s": s("integer"), "engine": s("string"), "config": ns("string"), "data_dir": s("string"),
                    "cluster": {"type": "object", "properties": {"state": ns("string"), "create": s("string"), "formation": ns("string"), "nodes_running": s("integer"), "nodes_total": s("integer"), "ready": s("boolean"), "in_sync": s("boolean"), "waiting_for": {"type": "array", "items": s("string")}}},
                    "nodes": {"type": "array", "items": {"$ref": "#/components/schemas/NodeView"}}
                }},
                "KillRequest": {"type": "object", "additionalProperties": false, "properties": {"signal": {"type": "string", "description": "SIGKILL (default), TERM, 9, ..."}}},
                "ActionResult": {"type": "object", "properties": {"node": s("string"), "ok": s("boolean"), "state": {"$ref": "#/components/schemas/State"}, "error": ns("string")}},
                "ActionResponse": {"type": "object", "properties": {"action": s("string"), "results": {"type": "array", "items": {"$ref": "#/components/schemas/ActionResult"}}}},
                "LogChunk": {"type": "object", "properties": {"path": s("string"), "offset": s("integer"), "next_offset": s("integer"), "data": s("string")}},
                "CreateReport": {"type": "object", "properties": {
                    "already_formed": s("boolean"),
                    "masters": {"type": "array", "items": {"type": "array", "items": s("integer"), "description": "[port, first slot, last slot]"}},
                    "replicas": {"type": "array", "items": {"type": "array", "items": s("integer"), "description": "[replica port, master port]"}}
                }},
                "Check": {"type": "object", "properties": {
                    "name": s("string"), "value": s("string"), "wanted": s("string"), "level": {"type": "string", "enum": ["ok", "warn"]},
                    "why": s("string"), "fix": s("string"), "fix_result": s("string")
                }},
                "PreflightResponse": {"type": "object", "properties": {"checks": {"type": "array", "items": {"$ref": "#/components/schemas/Check"}}}},
                "ShutdownResponse": {"type": "object", "properties": {"message": s("string")}},
                "Event": {"type": "object", "required": ["seq", "ts_ms", "kind", "message"], "properties": {
                    "seq": s("integer"), "ts_ms": s("integer"),
                    "kind": {"type": "string", "enum": ["slotd_started", "started", "restarted", "adopted", "running", "exited", "fatal", "paused", "resumed", "fault_on", "fault_off", "pfail", "fail", "fail_cleared", "role_change", "failover", "cluster_state", "slots_moved", "writes_served", "assisted_failover", "lab"]},
                    "node": s("string"), "peer": s("string"), "nodes": {"type": "array", "items": s("string")},
                    "epoch": s("integer"), "value": s("string"), "message": s("string")
                }},
                "Stopwatch": {"type": "object", "properties": {
                    "old_master": s("string"), "new_master": s("string"), "epoch": ns("integer"), "total_ms": ns("integer"),
                    "phases": {"type": "array", "items": {"type": "object", "properties": {"name": s("string"), "ts_ms": ns("integer"), "detail": s("string")}}}
                }},
                "EventsResponse": {"type": "object", "properties": {
                    "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                    "failovers": {"type": "array", "items": {"$ref": "#/components/schemas/Stopwatch"}},
                    "total": s("integer")
                }},
                "PartitionRequest": {"type": "object", "additionalProperties": false, "required": ["groups"], "properties": {
                    "groups": {"type": "array", "items": {"type": "array", "items": s("string")}, "description": "One group = it vs every other node"},
                    "for_ms": ns("integer")
                }},
                "DelayRequest": {"type": "object", "additionalProperties": false, "required": ["node", "ms"], "properties": {
                    "node": s("string"), "ms": s("integer"), "jitter_ms": s("integer"), "for_ms": ns("integer")
                }},
                "DropRequest": {"type": "object", "additionalProperties": false, "required": ["node", "rate"], "properties": {
                    "node": s("string"), "rate": {"type": "number", "minimum": 0, "maximum": 1}, "for_ms": ns("integer")
                }},
                "FaultsResponse": {"type": "object", "properties": {
                    "active": {"type": "array", "items": {"type": "object", "properties": {
                        "id": s("integer"), "spec": {"type": "object"}, "description": s("string"), "since_ms": s("integer"), "until_ms": ns("integer")
                    }}},
                    "nodes": {"type": "object", "additionalProperties": s("string")},
                    "note": ns("string")
                }},
                "CheckpointRequest": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {"name": s("string")}},
                "Manifest": {"type": "object", "properties": {
                    "name": s("string"), "created_ms": s("integer"), "engine": s("string"),
                    "nodes": {"type": "array", "items": {"type": "array", "description": "[port, was running]"}}
                }},
                "CheckpointReport": {"type": "object", "properties": {
                    "manifest": {"$ref": "#/components/schemas/Manifest"}, "path": s("string"), "bytes": s("integer"), "elapsed_ms": s("integer")
                }},
                "CheckpointList": {"type": "object", "properties": {"checkpoints": {"type": "array", "items": {"$ref": "#/components/schemas/Manifest"}}}}
            }
        },
        "security": [{}, {"bearer": []}],
        "paths": Value::Object(paths)
    });
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        schemas.extend(super::reshard::schemas());
        schemas.extend(lab_schemas());
    }
    doc
}

/// The lab run bodies (kept apart: one `json!` of everything exceeds the macro recursion limit).
fn lab_schemas() -> serde_json::Map<String, Value> {
    let s = |t: &str| json!({"type": t});
    let ns = |t: &str| json!({"type": [t, "null"]});
    let v = json!({
                "LastResult": {"type": "object", "properties": {
                    "engine": s("string"), "passed": s("boolean"), "finished_ms": s("integer"),
                    "checks_passed": s("integer"), "checks_total": s("integer"), "summary": s("string")
                }},
                "ScenarioList": {"type": "array", "items": {"type": "object", "properties": {
                    "name": s("string"), "description": s("string"), "steps": s("integer"),
                    "engines": {"type": "array", "items": s("string")},
                    "last": {"oneOf": [{"$ref": "#/components/schemas/LastResult"}, {"type": "null"}]}
                }}},
                "RunRequest": {"type": "object", "additionalProperties": false, "properties": {"engine": {"type": "string", "enum": ["builtin", "redis-server"]}}},
                "Plan": {"type": "object", "properties": {
                    "masters": {"type": "array", "items": {"$ref": "#/components/schemas/Member"}},
                    "replicas": {"type": "array", "items": {"type": "array", "description": "[Member, master index]"}},
                    "warnings": {"type": "array", "items": s("string")}
                }},
                "Member": {"type": "object", "properties": {"name": s("string"), "addr": s("string"), "host": ns("string")}},
                "IsolationReport": {"type": "object", "properties": {
                    "host": s("string"), "isolated": s("boolean"), "mechanism": s("string"), "message": s("string")
                }},
                "RunView": {"type": ["object", "null"], "properties": {
                    "id": s("integer"), "scenario": s("string"), "engine": s("string"),
                    "state": {"type": "string", "enum": ["running", "passed", "failed"]},
                    "started_ms": s("integer"), "finished_ms": ns("integer"),
                    "narrative": {"type": "array", "items": s("string")}, "reports": {"type": "array", "items": s("string")}
                }}
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// `GET /v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}
