//! The `yiwei` binary's library half: configuration, the demo county and the CLI, so that
//! integration tests can use the demo county as a fixture.

pub mod bench;
pub mod bench_booking;
pub mod bench_imaging;
pub mod bench_programme;
pub mod bench_services;
pub mod cli;
pub mod config;
pub mod demo;
pub mod demo_booking;
pub mod demo_cases;
pub mod demo_imaging;
pub mod demo_immunization;
pub mod demo_programmes;
pub mod imaging;
pub mod import;
pub mod jobs;
pub mod warning;
