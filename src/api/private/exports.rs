//! AddExport, ExportStatus, RetrieveExport and RemoveExport (docs.kraken.com "Request Export
//! Report", "Get Export Report Status", "Retrieve Data Export", "Delete Export Report"); the
//! reports themselves are built by `crate::exports`.

use crate::api::params::Params;
use crate::api::{ApiResult, Caller, Shared};
use crate::error::KrakenError;
use crate::exports::{Exports, Report};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

fn report_param(p: &Params) -> Result<String, KrakenError> {
    match p.required("report")? {
        r @ ("trades" | "ledgers") => Ok(r.to_string()),
        _ => Err(KrakenError::invalid("report")),
    }
}

fn now_secs(st: &Shared) -> u64 {
    st.clock.now_us() / 1_000_000
}

pub async fn add_export(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let report = report_param(p)?;
    let format = p.text("format").unwrap_or("CSV").to_ascii_uppercase();
    if format != "CSV" && format != "TSV" {
        return Err(KrakenError::invalid("format"));
    }
    let descr = p.required("description")?.to_string();
    if descr.len() > 256 {
        return Err(KrakenError::invalid("description"));
    }
    let fields = p.text("fields").unwrap_or("all").to_string();
    let asset = match p.text("asset") {
        None => "all".to_string(),
        Some(a) if a.eq_ignore_ascii_case("all") => "all".to_string(),
        Some(a) => st.markets.asset(st.markets.asset_by_name(a).ok_or(KrakenError::UnknownAsset)?).id.clone(),
    };
    let now = now_secs(st);
    let starttm = p.int::<u64>("starttm")?.unwrap_or(0);
    let endtm = p.int::<u64>("endtm")?.unwrap_or(now);
    if starttm > endtm {
        return Err(KrakenError::invalid("starttm"));
    }
    let (trades, ledger) = st.sequencer.read(|ex| (ex.history.next_trade, ex.history.next_ledger)).await?;
    let id = st.exports.new_id();
    let r = Report {
        id: id.clone(),
        account: c.account(),
        report,
        descr,
        format,
        fields,
        asset,
        starttm,
        endtm,
        createdtm: now,
        completedtm: 0,
        status: "Queued".into(),
        snapshot_trades: trades,
        snapshot_ledger: ledger,
    };
    st.exports.add(r, st.sequencer.clone(), st.history.clone())?;
    Ok(json!({ "id": id }))
}

fn status_view(r: &Report) -> Value {
    json!({
        "id": r.id,
        "descr": r.descr,
        "format": r.format,
        "report": r.report,
        "subtype": "all",
        "status": r.status,
        "flags": "0",
        "fields": r.fields,
        "createdtm": r.createdtm.to_string(),
        "expiretm": Exports::expiretm(r).to_string(),
        "starttm": r.starttm.to_string(),
        "completedtm": r.completedtm.to_string(),
        "datastarttm": r.starttm.to_string(),
        "dataendtm": r.endtm.to_string(),
        "aclass": "currency",
        "asset": r.asset,
    })
}

pub async fn export_status(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let report = report_param(p)?;
    Ok(Value::Array(st.exports.list(c.account(), &report).iter().map(status_view).collect()))
}

fn mine(st: &Shared, c: &Caller, p: &Params) -> Result<Report, KrakenError> {
    let id = p.required("id")?;
    st.exports.get(id).filter(|r| r.account == c.account()).ok_or_else(|| KrakenError::invalid("id"))
}

/// The zip itself (`application/zip`), not the JSON envelope; a refusal is the usual envelope.
pub async fn retrieve_export(st: &Shared, c: &Caller, p: &Params) -> Result<Response, KrakenError> {
    let r = mine(st, c, p)?;
    if r.status != "Processed" {
        return Err(KrakenError::invalid("id"));
    }
    let bytes = st.exports.file(&r.id).ok_or_else(|| KrakenError::invalid("id"))?;
    let disposition = format!("attachment; filename=\"{}.zip\"", r.id);
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/zip".to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response())
}

pub async fn remove_export(st: &Shared, c: &Caller, p: &Params) -> ApiResult {
    let r = mine(st, c, p)?;
    let kind = p.required("type")?;
    let done = r.status == "Processed";
    match (kind, done) {
        ("delete", true) | ("cancel", false) => {
            st.exports.remove(&r.id)?;
            Ok(json!({ kind: true }))
        }
        ("delete" | "cancel", _) => Err(KrakenError::invalid("type")),
        _ => Err(KrakenError::invalid("type")),
    }
}
