//! FHIR Practitioner and PractitionerRole: the staff directory that the `Practitioner/<id>`
//! references of other resources resolve to; residents' own accounts are not in it.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use yiwei_store::user;

use crate::support::{Client, Reply, TestApp, backends};

async fn get(client: &mut Client, uri: &str, token: &str) -> Reply {
    let request = Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    client.send(request).await
}

fn ids(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| e["resource"]["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn staff_are_practitioners_with_their_role_and_institution_and_residents_are_not() {
    for backend in backends() {
        let app = TestApp::new(backend).await;
        let doctor = user::by_username(&app.store, "village.doctor")
            .await
            .expect("user");
        let resident = user::by_username(&app.store, "resident")
            .await
            .expect("user");
        let token = yiwei_store::session::create_api_token(&app.store, doctor.id, "t", None)
            .await
            .expect("token");
        let mut api = app.client();

        let p = get(
            &mut api,
            &format!("/fhir/Practitioner/{}", doctor.id),
            &token,
        )
        .await;
        assert_eq!(p.status, StatusCode::OK, "{backend}: {}", p.body);
        let p = p.json();
        assert_eq!(p["resourceType"], "Practitioner");
        assert_eq!(p["name"][0]["text"], "village.doctor 测试");
        assert_eq!(p["identifier"][0]["value"], "village.doctor");
        assert_eq!(p["active"], true);
        assert!(p.get("telecom").is_none(), "no phones");

        let r = get(
            &mut api,
            &format!("/fhir/PractitionerRole/{}", doctor.id),
            &token,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = r.json();
        assert_eq!(r["code"][0]["coding"][0]["code"], "village_doctor");
        assert_eq!(
            r["organization"]["reference"],
            format!("Organization/{}", doctor.institution_id.unwrap())
        );
        assert_eq!(
            r["practitioner"]["reference"],
            format!("Practitioner/{}", doctor.id)
        );

        // A resident's own account is no practitioner.
        for uri in [
            format!("/fhir/Practitioner/{}", resident.id),
            format!("/fhir/PractitionerRole/{}", resident.id),
            "/fhir/Practitioner/nonsense".to_owned(),
        ] {
            let r = get(&mut api, &uri, &token).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        }

        // Search by role, by institution, by name; the residents never appear.
        let all = get(&mut api, "/fhir/Practitioner?_count=100", &token)
            .await
            .json();
        assert_eq!(all["total"], 5, "{all}");
        assert!(!ids(&all).contains(&resident.id.to_string()));
        let clinicians = get(
            &mut api,
            "/fhir/PractitionerRole?role=urn:yiwei:role|clinician",
            &token,
        )
        .await
        .json();
        assert_eq!(clinicians["total"], 2, "{clinicians}");
        let here = get(
            &mut api,
            &format!(
                "/fhir/PractitionerRole?organization=Organization/{}",
                doctor.institution_id.unwrap()
            ),
            &token,
        )
        .await
        .json();
        assert_eq!(ids(&here), vec![doctor.id.to_string()], "{here}");
        let named = get(&mut api, "/fhir/Practitioner?name=township", &token)
            .await
            .json();
        assert_eq!(named["total"], 1);
        // Bad input is a 400 with a message, not an empty bundle.
        for uri in [
            "/fhir/PractitionerRole?role=resident",
            "/fhir/PractitionerRole?organization=Organization/x",
            "/fhir/Practitioner?active=maybe",
            "/fhir/Practitioner?specialty=x",
        ] {
            let r = get(&mut api, uri, &token).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.body);
            assert_eq!(r.json()["resourceType"], "OperationOutcome");
        }
    }
}
