use chrono::{DateTime, Duration, TimeZone, Utc};

use super::{audit, temp_store};
use crate::{AppSample, AppSampleRow, DynoSample, Store, StoreError, LATENCY_BUCKET_COUNT};

/// A time that starts a bucket at every resolution.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 9, 10, 0, 0).unwrap()
}

fn app_sample(app_id: i64, responses: [u64; 5], first_bucket: u64) -> AppSample {
    let mut latency_buckets = vec![1; LATENCY_BUCKET_COUNT];
    latency_buckets[0] = first_bucket;
    AppSample {
        app_id,
        responses,
        latency_buckets,
        latency_sum_seconds: 0.25,
        restarts: 1,
    }
}

fn dyno_sample(app_id: i64, memory_bytes: u64, memory_limit_bytes: Option<u64>) -> DynoSample {
    DynoSample {
        app_id,
        dyno: "web.1".into(),
        process_type: "web".into(),
        host: "default".into(),
        memory_bytes,
        memory_limit_bytes,
        cpu_seconds: 0.5,
    }
}

async fn store_with_app(name: &str) -> (tempfile::TempDir, Store, i64) {
    let (dir, store) = temp_store().await;
    let alice = store
        .create_user("alice@example.com", None, false)
        .await
        .unwrap();
    let app = store
        .create_app(name, alice.id, &audit("app.create"))
        .await
        .unwrap();
    (dir, store, app.id)
}

/// A second app of alice's, `other`.
async fn another_app(store: &Store) -> i64 {
    let alice = store.user_by_email("alice@example.com").await.unwrap();
    store
        .create_app("other", alice.unwrap().id, &audit("app.create"))
        .await
        .unwrap()
        .id
}

async fn bucket_starts(store: &Store, app_id: i64, resolution: u32) -> Vec<DateTime<Utc>> {
    let since = t0() - Duration::days(30);
    let apps: Vec<_> = store
        .app_metric_samples(app_id, resolution, since)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.at)
        .collect();
    let dynos: Vec<_> = store
        .dyno_metric_samples(app_id, resolution, since)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.at)
        .collect();
    assert_eq!(apps, dynos, "app and dyno rows keep the same buckets");
    apps
}

#[tokio::test]
async fn deltas_add_up_within_a_bucket_at_every_resolution() {
    let (_dir, store, app_id) = store_with_app("demo").await;
    store
        .record_metric_samples(
            t0() + Duration::seconds(1),
            &[app_sample(app_id, [0, 5, 1, 2, 1], 4)],
            &[dyno_sample(app_id, 100, Some(1000))],
        )
        .await
        .unwrap();
    store
        .record_metric_samples(
            t0() + Duration::seconds(9),
            &[app_sample(app_id, [1, 3, 0, 0, 2], 2)],
            &[DynoSample {
                host: "edge".into(),
                ..dyno_sample(app_id, 300, None)
            }],
        )
        .await
        .unwrap();

    let mut latency_buckets = vec![2; LATENCY_BUCKET_COUNT];
    latency_buckets[0] = 6;
    for resolution in [10, 60, 600] {
        let apps = store
            .app_metric_samples(app_id, resolution, t0())
            .await
            .unwrap();
        assert_eq!(
            apps,
            vec![AppSampleRow {
                at: t0(),
                responses: [1, 8, 1, 2, 3],
                latency_buckets: latency_buckets.clone(),
                latency_sum_seconds: 0.5,
                restarts: 2,
            }],
            "at {resolution} s"
        );
        let dynos = store
            .dyno_metric_samples(app_id, resolution, t0())
            .await
            .unwrap();
        assert_eq!(dynos.len(), 1, "at {resolution} s");
        let dyno = &dynos[0];
        assert_eq!(dyno.at, t0());
        assert_eq!((dyno.dyno.as_str(), dyno.host.as_str()), ("web.1", "edge"));
        assert_eq!((dyno.memory_bytes_max, dyno.memory_bytes_avg), (300, 200));
        assert_eq!(dyno.cpu_seconds, 1.0);
        assert_eq!(dyno.memory_limit_bytes, None, "the limit is the latest");
    }
}

#[tokio::test]
async fn a_tick_in_the_next_10_s_bucket_adds_a_row_there_and_to_the_same_minute() {
    let (_dir, store, app_id) = store_with_app("demo").await;
    for offset in [3, 12] {
        store
            .record_metric_samples(
                t0() + Duration::seconds(offset),
                &[app_sample(app_id, [0, 1, 0, 0, 0], 1)],
                &[dyno_sample(app_id, 100, None)],
            )
            .await
            .unwrap();
    }
    assert_eq!(
        bucket_starts(&store, app_id, 10).await,
        [t0(), t0() + Duration::seconds(10)]
    );
    for resolution in [60, 600] {
        assert_eq!(bucket_starts(&store, app_id, resolution).await, [t0()]);
        let rows = store
            .app_metric_samples(app_id, resolution, t0())
            .await
            .unwrap();
        assert_eq!(rows[0].responses, [0, 2, 0, 0, 0]);
    }
    let later = store
        .app_metric_samples(app_id, 10, t0() + Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(later.len(), 1, "rows before `since` are left out");
}

#[tokio::test]
async fn pruning_removes_buckets_past_their_retention_and_keeps_newer_ones() {
    let (_dir, store, app_id) = store_with_app("demo").await;
    let tick = |at: DateTime<Utc>| {
        let store = store.clone();
        async move {
            store
                .record_metric_samples(
                    at,
                    &[app_sample(app_id, [0, 1, 0, 0, 0], 1)],
                    &[dyno_sample(app_id, 100, None)],
                )
                .await
                .unwrap();
        }
    };
    let at = |seconds: i64| t0() + Duration::seconds(seconds);
    tick(at(0)).await;
    tick(at(20)).await;
    // The bucket at 3610 s keeps 10 s buckets from 10 s on.
    tick(at(3610)).await;
    assert_eq!(bucket_starts(&store, app_id, 10).await, [at(20), at(3610)]);
    assert_eq!(bucket_starts(&store, app_id, 60).await, [at(0), at(3600)]);

    tick(at(86_460)).await;
    assert_eq!(bucket_starts(&store, app_id, 10).await, [at(86_460)]);
    assert_eq!(
        bucket_starts(&store, app_id, 60).await,
        [at(3600), at(86_460)]
    );
    assert_eq!(
        bucket_starts(&store, app_id, 600).await,
        [at(0), at(3600), at(86_400)]
    );

    let week = 7 * 86_400;
    tick(at(week + 600)).await;
    assert_eq!(
        bucket_starts(&store, app_id, 600).await,
        [at(3600), at(86_400), at(week + 600)]
    );
}

#[tokio::test]
async fn samples_go_with_their_app_and_those_of_unknown_apps_are_skipped() {
    let (_dir, store, app_id) = store_with_app("demo").await;
    let other = another_app(&store).await;
    let unknown = other + 100;
    store
        .record_metric_samples(
            t0(),
            &[
                app_sample(app_id, [0, 1, 0, 0, 0], 1),
                app_sample(unknown, [0, 1, 0, 0, 0], 1),
                app_sample(other, [0, 1, 0, 0, 0], 1),
            ],
            &[
                dyno_sample(unknown, 100, None),
                dyno_sample(app_id, 100, None),
                dyno_sample(other, 100, None),
            ],
        )
        .await
        .unwrap();
    assert!(bucket_starts(&store, unknown, 10).await.is_empty());
    assert_eq!(bucket_starts(&store, app_id, 10).await, [t0()]);

    store
        .delete_app(app_id, &audit("app.destroy"))
        .await
        .unwrap();
    for resolution in [10, 60, 600] {
        assert!(bucket_starts(&store, app_id, resolution).await.is_empty());
        assert_eq!(bucket_starts(&store, other, resolution).await, [t0()]);
    }
}

#[tokio::test]
async fn a_malformed_sample_refuses_the_whole_tick() {
    let (_dir, store, app_id) = store_with_app("demo").await;
    let mut short = app_sample(app_id, [0, 1, 0, 0, 0], 1);
    short.latency_buckets.pop();
    let no_cpu_figure = DynoSample {
        cpu_seconds: f64::NAN,
        ..dyno_sample(app_id, 100, None)
    };
    for (apps, dynos) in [
        (vec![app_sample(app_id, [0, 1, 0, 0, 0], 1), short], vec![]),
        (
            vec![app_sample(app_id, [0, 1, 0, 0, 0], 1)],
            vec![no_cpu_figure],
        ),
    ] {
        let error = store
            .record_metric_samples(t0(), &apps, &dynos)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::MalformedSample(_)), "{error}");
    }
    assert!(bucket_starts(&store, app_id, 10).await.is_empty());
}

#[tokio::test]
async fn samples_survive_reopening_the_store() {
    let (dir, store, app_id) = store_with_app("demo").await;
    store
        .record_metric_samples(
            t0(),
            &[app_sample(app_id, [0, 7, 0, 0, 0], 1)],
            &[dyno_sample(app_id, 100, Some(1000))],
        )
        .await
        .unwrap();
    store.close().await;

    let reopened = Store::open(&Store::sqlite_url(dir.path())).await.unwrap();
    let rows = reopened.app_metric_samples(app_id, 60, t0()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].responses, [0, 7, 0, 0, 0]);
    let dynos = reopened
        .dyno_metric_samples(app_id, 600, t0())
        .await
        .unwrap();
    assert_eq!(dynos[0].memory_limit_bytes, Some(1000));
}

#[tokio::test]
async fn response_counts_by_app_total_each_minute_of_every_app() {
    let (_dir, store, app_id) = store_with_app("demo").await;
    let other = another_app(&store).await;
    for (offset, responses) in [(0, 1), (50, 2), (70, 4), (130, 8)] {
        store
            .record_metric_samples(
                t0() + Duration::seconds(offset),
                &[
                    app_sample(app_id, [responses, 0, 0, 0, responses], 1),
                    app_sample(other, [0, 0, 0, responses, 0], 1),
                ],
                &[],
            )
            .await
            .unwrap();
    }
    let minute = |n: i64| t0() + Duration::minutes(n);
    assert_eq!(
        store.response_counts_by_app(minute(1)).await.unwrap(),
        vec![
            (app_id, minute(1), 8),
            (app_id, minute(2), 16),
            (other, minute(1), 4),
            (other, minute(2), 8),
        ]
    );
}
