//! `cargo run --release -p yiwei --example bench_programme -- <data-dir> <division> <year> [runs]`:
//! time the programme indicators on an existing database (e.g. one `yiwei demo` built),
//! until `yiwei bench` offers it.

use anyhow::{Context, Result};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, division, year, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: bench_programme <data-dir> <division> <year> [runs]");
    };
    let runs = rest.first().map_or(Ok(5), |r| r.parse()).context("runs")?;
    let dir = std::path::Path::new(dir);
    let keys = yiwei_store::Keys::load_or_create(dir).context("keys")?;
    let store = yiwei_store::Store::open("", dir, keys)
        .await
        .context("open store")?;
    let root = yiwei_domain::division::DivisionCode::parse(division).context("division")?;
    let m = yiwei::bench_programme::indicators(&store, &root, year.parse()?, runs).await?;
    println!("{}", m.line());
    Ok(())
}
