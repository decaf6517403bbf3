//! HTTP tests of yiwei-web: in process through `tower::ServiceExt::oneshot`, on SQLite and,
//! when `YIWEI_TEST_PG_URL` is set, on PostgreSQL; and browser tests in headless Chromium.

mod booking;
mod browser;
mod browser_recognition;
mod cdc;
mod contracts;
mod cost_alerts;
mod dicomweb;
mod encounters;
mod fhir_programmes;
mod http;
mod immunization;
mod indicators;
mod notifiable;
mod practitioners;
mod programme_indicators;
mod programmes;
mod recognition;
mod records;
mod support;
