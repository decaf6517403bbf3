//! The live schema against the backup's table list, migrations, divisions and institutions.

use std::collections::BTreeMap;

use yiwei_domain::division::Level;
use yiwei_domain::org::InstitutionKind;
use yiwei_store::backup::{self, NOT_BACKED_UP};
use yiwei_store::{Backend, Store, StoreError, division, migrate, on_pool, org};

use crate::support::{County, int, keys, reopen};

/// Every table of the live schema with its columns, in column order.
async fn live_tables(store: &Store) -> BTreeMap<String, Vec<String>> {
    let (tables_sql, columns_sql) = match store.backend() {
        Backend::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name",
            "SELECT name FROM pragma_table_info($1) ORDER BY cid",
        ),
        Backend::Postgres => (
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        ),
    };
    let mut out = BTreeMap::new();
    let names: Vec<String> = on_pool!(store, |pool| {
        sqlx::query_scalar(tables_sql).fetch_all(pool).await
    })
    .expect("tables");
    for name in names {
        let columns: Vec<String> = on_pool!(store, |pool| {
            sqlx::query_scalar(columns_sql)
                .bind(&name)
                .fetch_all(pool)
                .await
        })
        .expect("columns");
        out.insert(name, columns);
    }
    out
}

conformance!(every_table_of_the_schema_is_backed_up_with_exactly_its_columns);
async fn every_table_of_the_schema_is_backed_up_with_exactly_its_columns(store: Store) {
    let live = live_tables(&store).await;
    assert!(
        live.contains_key("audit_log") && live.contains_key("resident"),
        "{live:?}"
    );
    let covered: BTreeMap<String, Vec<String>> = backup::covered_tables()
        .into_iter()
        .map(|(t, cols)| (t.to_owned(), cols.into_iter().map(str::to_owned).collect()))
        .collect();
    for (table, columns) in &live {
        if NOT_BACKED_UP.contains(&table.as_str()) {
            assert!(
                !covered.contains_key(table),
                "{table} is both left out and covered"
            );
            continue;
        }
        let Some(backed_up) = covered.get(table) else {
            panic!("table {table} is neither backed up nor listed in NOT_BACKED_UP");
        };
        let mut live_sorted = columns.clone();
        live_sorted.sort();
        let mut backed_up_sorted = backed_up.clone();
        backed_up_sorted.sort();
        assert_eq!(live_sorted, backed_up_sorted, "columns of {table}");
    }
    for table in covered.keys() {
        assert!(
            live.contains_key(table),
            "the backup lists {table}, which the schema lacks"
        );
    }
    for table in NOT_BACKED_UP {
        assert!(
            live.contains_key(*table),
            "NOT_BACKED_UP lists {table}, which the schema lacks"
        );
    }
}

conformance!(opening_a_store_again_does_not_rerun_migrations);
async fn opening_a_store_again_does_not_rerun_migrations(store: Store) {
    assert_eq!(
        migrate::current_version(&store).await.expect("version"),
        migrate::latest_version()
    );
    assert!(migrate::latest_version() >= 1);
    let applied = |store: Store| async move {
        on_pool!(&store, |pool| {
            sqlx::query_as::<_, (i64, String, String)>(
                "SELECT version, name, applied_at FROM schema_migrations ORDER BY version",
            )
            .fetch_all(pool)
            .await
        })
        .expect("schema_migrations")
    };
    let before = applied(store.clone()).await;
    assert_eq!(
        before.iter().map(|m| m.0).collect::<Vec<_>>(),
        migrate::versions()
    );
    let c = County::build(&store).await;

    let again = reopen(&store, keys()).await;
    assert_eq!(
        migrate::current_version(&again).await.expect("version"),
        migrate::latest_version()
    );
    assert_eq!(
        applied(again.clone()).await,
        before,
        "no migration ran again"
    );
    assert_eq!(
        int(&again, "SELECT COUNT(*) FROM resident").await,
        4,
        "the data is intact"
    );
    let third = reopen(&again, keys()).await;
    assert_eq!(applied(third.clone()).await, before);
    let user = yiwei_store::user::get(&third, c.analyst.id)
        .await
        .expect("user");
    assert_eq!(user, c.analyst);
    third.close().await;
    again.close().await;
}

conformance!(divisions_form_a_tree_searchable_by_subtree);
async fn divisions_form_a_tree_searchable_by_subtree(store: Store) {
    let c = County::build(&store).await;
    let county = division::get(&store, &c.county).await.expect("county");
    assert_eq!(
        (county.level, county.name.as_str()),
        (Level::County, "环江毛南族自治县")
    );
    assert_eq!(county.parent.as_ref().map(|p| p.as_str()), Some("4512"));
    let townships = division::children(&store, &c.county)
        .await
        .expect("children");
    let codes: Vec<_> = townships.iter().map(|d| d.code.clone()).collect();
    assert_eq!(codes, vec![c.township_a.clone(), c.township_b.clone()]);
    assert_eq!(
        division::count_within(&store, &c.county)
            .await
            .expect("count"),
        6
    );
    assert_eq!(
        division::count_within(&store, &c.township_a)
            .await
            .expect("count"),
        3
    );
    let villages = division::search(&store, &c.county, "", Some(Level::Village), 10, 0)
        .await
        .expect("search");
    let codes: Vec<_> = villages.iter().map(|d| d.code.clone()).collect();
    assert_eq!(
        codes,
        vec![
            c.village_a1.clone(),
            c.village_a2.clone(),
            c.village_b1.clone()
        ]
    );
    let named = division::search(&store, &c.township_b, "水源", None, 10, 0)
        .await
        .expect("search");
    assert_eq!(named.len(), 2, "the township and its village");
    assert!(matches!(
        division::get(&store, &crate::support::code("451226102")).await,
        Err(StoreError::NotFound(_))
    ));

    // An upsert renames but does not move.
    let mut renamed = townships[0].clone();
    renamed.name = "思恩镇（新）".into();
    division::upsert(&store, &renamed).await.expect("upsert");
    assert_eq!(
        division::get(&store, &c.township_a).await.expect("get"),
        renamed
    );
}

conformance!(institutions_belong_to_divisions_and_a_medical_community);
async fn institutions_belong_to_divisions_and_a_medical_community(store: Store) {
    let c = County::build(&store).await;
    let communities = org::communities(&store).await.expect("communities");
    assert_eq!(communities.len(), 1);
    assert_eq!(communities[0].id, c.community);
    assert_eq!(
        org::community_by_id(&store, c.community)
            .await
            .expect("community")
            .county,
        c.county
    );

    let hospital = org::get(&store, c.hospital).await.expect("hospital");
    assert_eq!(
        (hospital.kind, hospital.is_lead, hospital.active),
        (InstitutionKind::CountyHospital, true, true)
    );
    assert_eq!(
        org::by_code(&store, "T101").await.expect("by code").id,
        c.centre_b
    );

    let all = org::list(&store, &org::Filter::default(), 100, 0)
        .await
        .expect("list");
    assert_eq!(all.1, 5);
    let in_a = org::Filter {
        within: Some(c.township_a.clone()),
        ..Default::default()
    };
    let (list, total) = org::list(&store, &in_a, 100, 0).await.expect("list");
    assert_eq!(total, 2);
    let mut ids: Vec<i64> = list.iter().map(|i| i.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![c.centre_a, c.clinic_a1]);
    let bureaus = org::Filter {
        kind: Some(InstitutionKind::HealthBureau),
        ..Default::default()
    };
    let (list, _) = org::list(&store, &bureaus, 100, 0).await.expect("list");
    assert_eq!(
        list.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![c.bureau]
    );
    let named = org::Filter {
        name: Some("卫生院".into()),
        ..Default::default()
    };
    assert_eq!(org::list(&store, &named, 100, 0).await.expect("list").1, 2);

    let duplicate = org::add(
        &store,
        &org::NewInstitution {
            code: "T100".into(),
            name: "重复".into(),
            name_en: String::new(),
            kind: InstitutionKind::PrivateClinic,
            division: c.village_a2.clone(),
            community_id: None,
            is_lead: false,
        },
    )
    .await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict { .. })),
        "{duplicate:?}"
    );
}
