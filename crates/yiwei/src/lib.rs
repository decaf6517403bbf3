//! The `yiwei` binary's library half: configuration, the demo county and the CLI, so that
//! integration tests can use the demo county as a fixture.

pub mod bench;
pub mod bench_booking;
pub mod bench_booking_http;
pub mod bench_cost_alert;
pub mod bench_imaging;
pub mod bench_indicators;
pub mod bench_programme;
pub mod bench_services;
pub mod cli;
pub mod config;
pub mod config_programmes;
// cost alerts (防返贫监测预警)
pub mod cost_alert;
pub mod demo;
pub mod demo_booking;
pub mod demo_cases;
pub mod demo_charges;
pub mod demo_imaging;
pub mod demo_immunization;
pub mod demo_programmes;
pub mod demo_recognition;
pub mod imaging;
pub mod import;
pub mod import_charges;
pub mod indicators;
pub mod jobs;
pub mod text_encoding;
pub mod warning;
