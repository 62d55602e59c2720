//! Store contract: every store operation, on SQLite and on PostgreSQL.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use overdue::domain::check::{Action, CheckKind, Status};
use overdue::keys::{hash_secret, new_project};
use overdue::store::{
    CheckRecord, KeyAccess, PingInput, PingOutcome, PingRejection, PingTarget, ProjectRecord, Store,
};
use uuid::Uuid;

use crate::support::contract_test;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("test instant")
}

async fn project(store: &Store) -> (ProjectRecord, overdue::keys::ProjectKeys) {
    let (new, keys) = new_project("Backups");
    let record = store
        .create_project(&new, at("2024-01-01T00:00:00Z"))
        .await
        .expect("create project");
    (record, keys)
}

async fn check(store: &Store, project: &ProjectRecord, slug: &str) -> CheckRecord {
    let mut check = CheckRecord::new(project.id, at("2024-01-01T00:00:00Z"));
    check.name = format!("{slug} job");
    check.slug = slug.to_owned();
    store.create_check(&check).await.expect("create check")
}

fn ping(target: PingTarget, action: Action) -> PingInput {
    PingInput {
        target,
        url_action: action,
        exit_status: None,
        rid: None,
        reject: None,
        remote_addr: Some("192.0.2.7".to_owned()),
        scheme: "https".to_owned(),
        method: "POST".to_owned(),
        ua: "curl/8.5".to_owned(),
        body: Bytes::from_static(b"hello"),
    }
}

async fn record(store: &Store, input: PingInput, now: &str) -> PingOutcome {
    let outcomes = store
        .record_pings(&[input], at(now))
        .await
        .expect("record ping");
    assert_eq!(outcomes.len(), 1);
    outcomes[0]
}

async fn reload(store: &Store, check: &CheckRecord) -> CheckRecord {
    store
        .check_by_code(check.code)
        .await
        .expect("load")
        .expect("check exists")
}

contract_test!(projects_are_found_by_either_api_key_hash, |store| {
    let (created, keys) = project(store).await;
    assert_eq!(created.name, "Backups");
    assert_eq!(created.ping_key.as_deref(), Some(keys.ping_key.as_str()));
    let found = store
        .project_by_key_hash(&hash_secret(&keys.api_key))
        .await
        .expect("lookup");
    assert_eq!(found, Some((created.clone(), KeyAccess::ReadWrite)));
    let found = store
        .project_by_key_hash(&hash_secret(&keys.api_key_ro))
        .await
        .expect("lookup");
    assert_eq!(found, Some((created, KeyAccess::ReadOnly)));
    assert_eq!(
        store
            .project_by_key_hash(&hash_secret("hcw_nope"))
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(store.project_by_key_hash("").await.expect("lookup"), None);
});

contract_test!(checks_round_trip_every_field, |store| {
    let (project, _) = project(store).await;
    let mut check = CheckRecord::new(project.id, at("2024-01-01T00:00:00.123Z"));
    check.name = "nightly backup".to_owned();
    check.slug = "nightly-backup".to_owned();
    check.tags = "prod db".to_owned();
    check.desc = "pg_dump to S3".to_owned();
    check.filter_subject = true;
    check.state.kind = CheckKind::Cron;
    check.state.schedule = "30 2 * * *".to_owned();
    check.state.tz = "Europe/Riga".to_owned();
    check.state.grace = Duration::minutes(5);
    check.state.methods = "POST".to_owned();
    check.state.manual_resume = true;
    check.state.filter_http_body = true;
    check.state.success_kw = "ok".to_owned();
    check.state.last_start_rid = Some(Uuid::new_v4());
    check.state.last_duration = Some(Duration::milliseconds(1500));
    check.state.status = Status::Up;
    check.state.last_ping = Some(at("2024-01-01T00:00:00.456Z"));
    check.alert_after = check.state.going_down_after();
    let stored = store.create_check(&check).await.expect("create");
    assert!(stored.id > 0);
    assert_eq!(reload(store, &stored).await, stored);
    assert_eq!(
        store.checks_in_project(project.id).await.expect("list"),
        vec![stored]
    );
    assert_eq!(store.count_checks(project.id).await.expect("count"), 1);
});

contract_test!(
    success_ping_records_ping_updates_check_and_flips_it_up,
    |store| {
        let (project, _) = project(store).await;
        let check = check(store, &project, "backup").await;
        let now = "2024-03-01T10:00:00Z";
        assert_eq!(
            record(
                store,
                ping(PingTarget::Code(check.code), Action::Success),
                now
            )
            .await,
            PingOutcome::Recorded { created: false }
        );

        let after = reload(store, &check).await;
        assert_eq!(after.state.status, Status::Up);
        assert_eq!(after.state.n_pings, 1);
        assert_eq!(after.state.last_ping, Some(at(now)));
        assert_eq!(after.alert_after, Some(at("2024-03-02T11:00:00Z")));

        let pings = store.pings(check.id, 10).await.expect("pings");
        assert_eq!(pings.len(), 1);
        let p = &pings[0];
        assert_eq!((p.n, p.created, p.kind.as_deref()), (1, at(now), None));
        assert_eq!(
            (p.scheme.as_str(), p.method.as_str(), p.ua.as_str()),
            ("https", "POST", "curl/8.5")
        );
        assert_eq!(
            (p.remote_addr.as_deref(), p.body.as_deref()),
            (Some("192.0.2.7"), Some(&b"hello"[..]))
        );

        let flips = store.flips(check.id).await.expect("flips");
        assert_eq!(flips.len(), 1);
        assert_eq!(
            (flips[0].old_status, flips[0].new_status, flips[0].created),
            (Status::New, Status::Up, at(now))
        );
    }
);

contract_test!(
    fail_ping_flips_down_with_reason_and_clears_deadline,
    |store| {
        let (project, _) = project(store).await;
        let check = check(store, &project, "backup").await;
        record(
            store,
            ping(PingTarget::Code(check.code), Action::Success),
            "2024-03-01T10:00:00Z",
        )
        .await;
        let mut fail = ping(PingTarget::Code(check.code), Action::Success);
        fail.exit_status = Some(2);
        record(store, fail, "2024-03-01T11:00:00Z").await;
        let after = reload(store, &check).await;
        assert_eq!(
            (after.state.status, after.alert_after),
            (Status::Down, None)
        );
        let flips = store.flips(check.id).await.expect("flips");
        assert_eq!(
            (
                flips[0].old_status,
                flips[0].new_status,
                flips[0].reason.as_str()
            ),
            (Status::Up, Status::Down, "fail")
        );
        let pings = store.pings(check.id, 10).await.expect("pings");
        assert_eq!(
            (pings[0].kind.as_deref(), pings[0].exit_status),
            (Some("fail"), Some(2))
        );
    }
);

contract_test!(unknown_check_is_not_found_and_nothing_is_written, |store| {
    let (project, _) = project(store).await;
    let check = check(store, &project, "backup").await;
    let outcome = record(
        store,
        ping(PingTarget::Code(Uuid::new_v4()), Action::Success),
        "2024-03-01T10:00:00Z",
    )
    .await;
    assert_eq!(outcome, PingOutcome::NotFound);
    let mut bad = ping(PingTarget::Code(Uuid::new_v4()), Action::Success);
    bad.reject = Some(PingRejection::BadExitStatus);
    assert_eq!(
        record(store, bad, "2024-03-01T10:00:00Z").await,
        PingOutcome::NotFound
    );
    assert_eq!(reload(store, &check).await, check);
});

contract_test!(rejected_ping_of_a_known_check_changes_nothing, |store| {
    let (project, keys) = project(store).await;
    let check = check(store, &project, "backup").await;
    for rejection in [PingRejection::BadExitStatus, PingRejection::BadRid] {
        let mut input = ping(PingTarget::Code(check.code), Action::Success);
        input.reject = Some(rejection);
        assert_eq!(
            record(store, input, "2024-03-01T10:00:00Z").await,
            PingOutcome::Rejected(rejection)
        );
    }
    // Auto-provisioning does not create a check for a rejected ping either.
    let mut input = ping(
        PingTarget::Slug {
            ping_key: keys.ping_key,
            slug: "new-job".to_owned(),
            create: true,
        },
        Action::Success,
    );
    input.reject = Some(PingRejection::BadRid);
    assert_eq!(
        record(store, input, "2024-03-01T10:00:00Z").await,
        PingOutcome::Rejected(PingRejection::BadRid)
    );
    assert_eq!(reload(store, &check).await, check);
    assert!(store.pings(check.id, 10).await.expect("pings").is_empty());
    assert_eq!(store.count_checks(project.id).await.expect("count"), 1);
});

contract_test!(slug_pings_find_one_check_or_report_ambiguity, |store| {
    let (project, keys) = project(store).await;
    let (other_project, other_keys) = self::project(store).await;
    let one = check(store, &project, "db-backup").await;
    check(store, &project, "twin").await;
    check(store, &project, "twin").await;
    check(store, &other_project, "db-backup").await;
    let slug = |key: &str, slug: &str, create| PingTarget::Slug {
        ping_key: key.to_owned(),
        slug: slug.to_owned(),
        create,
    };
    let now = "2024-03-01T10:00:00Z";

    assert_eq!(
        record(
            store,
            ping(slug(&keys.ping_key, "db-backup", false), Action::Success),
            now
        )
        .await,
        PingOutcome::Recorded { created: false }
    );
    assert_eq!(reload(store, &one).await.state.n_pings, 1);
    assert_eq!(
        record(
            store,
            ping(slug(&keys.ping_key, "twin", false), Action::Success),
            now
        )
        .await,
        PingOutcome::AmbiguousSlug
    );
    assert_eq!(
        record(
            store,
            ping(slug(&keys.ping_key, "missing", false), Action::Success),
            now
        )
        .await,
        PingOutcome::NotFound
    );
    assert_eq!(
        record(
            store,
            ping(slug("nosuchpingkey", "db-backup", true), Action::Success),
            now
        )
        .await,
        PingOutcome::NotFound
    );
    assert_eq!(
        record(
            store,
            ping(slug(&other_keys.ping_key, "twin", false), Action::Success),
            now
        )
        .await,
        PingOutcome::NotFound
    );
});

contract_test!(
    create_flag_provisions_a_check_named_after_its_slug,
    |store| {
        let (project, keys) = project(store).await;
        let target = PingTarget::Slug {
            ping_key: keys.ping_key.clone(),
            slug: "new-job".to_owned(),
            create: true,
        };
        let now = "2024-03-01T10:00:00Z";
        assert_eq!(
            record(store, ping(target.clone(), Action::Success), now).await,
            PingOutcome::Recorded { created: true }
        );
        let checks = store.checks_in_project(project.id).await.expect("list");
        assert_eq!(checks.len(), 1);
        assert_eq!(
            (checks[0].name.as_str(), checks[0].slug.as_str()),
            ("new-job", "new-job")
        );
        assert_eq!(
            (checks[0].state.status, checks[0].state.n_pings),
            (Status::Up, 1)
        );
        // The second ping finds it.
        assert_eq!(
            record(store, ping(target, Action::Success), now).await,
            PingOutcome::Recorded { created: false }
        );
    }
);

contract_test!(batch_applies_pings_of_one_check_in_order, |store| {
    let (project, _) = project(store).await;
    let check = check(store, &project, "backup").await;
    let rid = Some(Uuid::new_v4());
    let mut start = ping(PingTarget::Code(check.code), Action::Start);
    start.rid = rid;
    let mut success = ping(PingTarget::Code(check.code), Action::Success);
    success.rid = rid;
    let missing = ping(PingTarget::Code(Uuid::new_v4()), Action::Success);
    let outcomes = store
        .record_pings(&[start, missing, success], at("2024-03-01T10:00:00Z"))
        .await
        .expect("batch");
    assert_eq!(
        outcomes,
        [
            PingOutcome::Recorded { created: false },
            PingOutcome::NotFound,
            PingOutcome::Recorded { created: false }
        ]
    );
    let after = reload(store, &check).await;
    assert_eq!(
        (
            after.state.n_pings,
            after.state.last_start,
            after.state.last_duration
        ),
        (2, None, Some(Duration::zero()))
    );
    let kinds: Vec<_> = store
        .pings(check.id, 10)
        .await
        .expect("pings")
        .into_iter()
        .map(|p| (p.n, p.kind))
        .collect();
    assert_eq!(kinds, [(2, None), (1, Some("start".to_owned()))]);
});

contract_test!(
    modify_check_recomputes_deadline_and_misses_deleted_checks,
    |store| {
        let (project, _) = project(store).await;
        let check = check(store, &project, "backup").await;
        record(
            store,
            ping(PingTarget::Code(check.code), Action::Success),
            "2024-03-01T10:00:00Z",
        )
        .await;
        let changed = store
            .modify_check(check.id, |c| c.state.timeout = Duration::hours(2))
            .await
            .expect("modify")
            .expect("exists");
        assert_eq!(changed.alert_after, Some(at("2024-03-01T13:00:00Z")));
        assert_eq!(reload(store, &check).await, changed);

        assert!(store.delete_check(check.id).await.expect("delete"));
        assert!(!store.delete_check(check.id).await.expect("delete again"));
        assert_eq!(
            store
                .modify_check(check.id, |c| c.name.clear())
                .await
                .expect("modify"),
            None
        );
        assert_eq!(store.check_by_code(check.code).await.expect("load"), None);
        assert!(store.pings(check.id, 10).await.expect("pings").is_empty());
        assert!(store.flips(check.id).await.expect("flips").is_empty());
    }
);

contract_test!(pings_see_check_changes_made_between_batches, |store| {
    let (project, _) = project(store).await;
    let check = check(store, &project, "backup").await;
    let code = || ping(PingTarget::Code(check.code), Action::Success);
    record(store, code(), "2024-03-01T10:00:00Z").await;
    store
        .modify_check(check.id, |c| c.state.timeout = Duration::hours(2))
        .await
        .expect("modify")
        .expect("exists");
    record(store, code(), "2024-03-01T11:00:00Z").await;
    let after = reload(store, &check).await;
    assert_eq!(after.state.n_pings, 2);
    assert_eq!(after.alert_after, Some(at("2024-03-01T14:00:00Z")));

    assert!(store.delete_check(check.id).await.expect("delete"));
    assert_eq!(
        record(store, code(), "2024-03-01T12:00:00Z").await,
        PingOutcome::NotFound
    );
});

/// Two processes sharing one SQLite file: each one's pings build on the other's.
#[tokio::test]
async fn two_stores_on_one_sqlite_file_apply_each_others_pings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let first = Store::connect(&url).await.expect("open");
    first.migrate().await.expect("migrate");
    let second = Store::connect(&url).await.expect("open again");
    let (project, _) = project(&first).await;
    let check = check(&first, &project, "shared").await;
    let times = [
        "2024-03-01T10:00:00Z",
        "2024-03-01T10:01:00Z",
        "2024-03-01T10:02:00Z",
        "2024-03-01T10:03:00Z",
    ];
    for (i, now) in times.iter().enumerate() {
        let store = if i % 2 == 0 { &first } else { &second };
        record(
            store,
            ping(PingTarget::Code(check.code), Action::Success),
            now,
        )
        .await;
    }
    let after = reload(&first, &check).await;
    assert_eq!(
        (after.state.n_pings, after.state.last_ping),
        (4, Some(at(times[3])))
    );
    let numbers: Vec<i64> = first
        .pings(check.id, 10)
        .await
        .expect("pings")
        .iter()
        .map(|p| p.n)
        .collect();
    assert_eq!(numbers, [4, 3, 2, 1]);
}
