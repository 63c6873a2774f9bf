//! Resource limits per process type (`ps:limits`) and what a Compose
//! service says beyond image and command, as a release process keeps them.

use std::collections::HashMap;

use berth_core::limits::{format_cpus, format_memory, Limits};
use berth_core::{Action, Actor, ProcessOptions};
use berth_docker::{ContainerSummary, Runtime};
use berth_store::{AppRecord, ReleaseProcess, ReleaseRecord};

use crate::progress::Progress;
use crate::{Platform, PlatformError, Result};

/// A process type's limits as `ps:limits` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessLimits {
    pub process_type: String,
    pub limits: Limits,
}

impl Platform {
    /// The limits each process type of the current release runs with.
    pub async fn limits(&self, actor: &Actor, app_name: &str) -> Result<Vec<ProcessLimits>> {
        let app = self.authorize_app(actor, app_name, Action::ReadApp).await?;
        Ok(self
            .current_release(&app)
            .await?
            .map(|release| release.processes)
            .unwrap_or_default()
            .into_iter()
            .map(|process| ProcessLimits {
                process_type: process.process_type,
                limits: process.limits,
            })
            .collect())
    }

    /// Sets a process type's limits (the values given, over those it has)
    /// and rolls them out as a new release, health-gated like any other.
    pub async fn set_limits(
        &self,
        actor: &Actor,
        app_name: &str,
        process_type: &str,
        limits: Limits,
        progress: &Progress,
    ) -> Result<Vec<ProcessLimits>> {
        let app = self.authorize_app(actor, app_name, Action::Deploy).await?;
        if limits.is_unlimited() {
            return Err(PlatformError::Invalid(
                "give --memory, --cpus or both (e.g. `berth ps:limits web --memory 512m`)".into(),
            ));
        }
        if let (Some(wanted), Some(quota)) =
            (limits.memory_bytes, self.quotas.container.memory_bytes)
        {
            if wanted > u64::try_from(quota).unwrap_or(0) {
                return Err(PlatformError::Invalid(format!(
                    "memory {} is above the platform's limit per dyno ({}, BERTH_DYNO_MEMORY): \
                     ask an operator, or give at most that",
                    format_memory(wanted),
                    format_memory(u64::try_from(quota).unwrap_or(0))
                )));
            }
        }
        self.exclusively(&app, progress, async {
            let current = self.current_release(&app).await?.ok_or_else(|| {
                PlatformError::Invalid(format!(
                    "{} has no release yet: push first, then set its limits",
                    app.name
                ))
            })?;
            if !current
                .processes
                .iter()
                .any(|p| p.process_type == process_type)
            {
                let known: Vec<&str> = current
                    .processes
                    .iter()
                    .map(|p| p.process_type.as_str())
                    .collect();
                return Err(PlatformError::NotFound(format!(
                    "{} has no process type {process_type}: it has {}",
                    app.name,
                    known.join(", ")
                )));
            }
            let before = self
                .store
                .process_limits(app.id)
                .await?
                .into_iter()
                .find(|(t, _)| t == process_type)
                .map(|(_, limits)| limits);
            self.store
                .set_process_limits(app.id, process_type, limits)
                .await?;
            let given: Vec<String> = limits
                .memory_bytes
                .map(|bytes| format!("memory {}", format_memory(bytes)))
                .into_iter()
                .chain(
                    limits
                        .nano_cpus
                        .map(|cpus| format!("cpus {}", format_cpus(cpus))),
                )
                .collect();
            let description = format!("Set {process_type} limits: {}", given.join(", "));
            let config = self.current_config(&app).await?;
            // A release that does not roll out leaves the limits as they were.
            if let Err(error) = self
                .rerelease(actor, &app, &current, &description, &config, progress)
                .await
            {
                self.store
                    .restore_process_limits(app.id, process_type, before)
                    .await?;
                return Err(error);
            }
            self.audit_app(actor, &app.name, "limits.change", description)
                .await?;
            Ok(())
        })
        .await?;
        self.limits(actor, app_name).await
    }

    /// What a process with limits `own` may use: the platform's quota per
    /// dyno is a ceiling that no process type's own limit lifts.
    pub(crate) fn applied_limits(&self, own: Limits) -> Limits {
        let capped = |own: Option<u64>, quota: Option<i64>| {
            let quota = quota.and_then(|quota| u64::try_from(quota).ok());
            match (own, quota) {
                (Some(own), Some(quota)) => Some(own.min(quota)),
                (own, quota) => own.or(quota),
            }
        };
        let quota = self.quotas.container;
        Limits {
            memory_bytes: capped(own.memory_bytes, quota.memory_bytes),
            nano_cpus: capped(own.nano_cpus, quota.nano_cpus),
        }
    }

    /// Why each of `containers` that stopped killed (exit code 137) did so,
    /// when the engine says it exceeded its memory limit: by container id,
    /// naming the limit its process type runs with in `release`.
    pub(crate) async fn out_of_memory_reasons<'c>(
        &self,
        release: Option<&ReleaseRecord>,
        containers: impl IntoIterator<Item = &'c ContainerSummary>,
    ) -> HashMap<String, String> {
        let mut reasons = HashMap::new();
        let Ok(runtime) = self.runtime() else {
            return reasons;
        };
        for container in containers {
            if container.state != "exited" || container.exit_code() != Some(137) {
                continue;
            }
            if !runtime.out_of_memory(&container.id).await.unwrap_or(false) {
                continue;
            }
            let own = container
                .process
                .as_ref()
                .and_then(|p| {
                    release?
                        .processes
                        .iter()
                        .find(|r| r.process_type == p.process_type)
                })
                .map(|process| process.limits)
                .unwrap_or_default();
            reasons.insert(
                container.id.clone(),
                out_of_memory_message(&self.applied_limits(own)),
            );
        }
        reasons
    }

    /// `processes` with the limits set by `ps:limits` over their own.
    pub(crate) async fn with_set_limits(
        &self,
        app: &AppRecord,
        processes: &[ReleaseProcess],
    ) -> Result<Vec<ReleaseProcess>> {
        let set = self.store.process_limits(app.id).await?;
        Ok(processes
            .iter()
            .map(|process| {
                let mut process = process.clone();
                if let Some((_, limits)) = set.iter().find(|(t, _)| *t == process.process_type) {
                    process.limits = process.limits.overlaid_with(*limits);
                }
                process
            })
            .collect())
    }

    /// A Compose service's options, sealed for the store (its environment
    /// may hold secrets); `None` when there are none.
    pub(crate) fn seal_process_options(
        &self,
        app: &AppRecord,
        options: &ProcessOptions,
    ) -> Result<Option<String>> {
        if options.is_default() {
            return Ok(None);
        }
        let json = serde_json::to_vec(options)
            .map_err(|e| PlatformError::Internal(format!("cannot encode process options: {e}")))?;
        Ok(Some(
            self.secrets()
                .seal(&format!("release-options/{}", app.id), &json),
        ))
    }

    /// The options a release process was recorded with.
    pub(crate) fn open_process_options(
        &self,
        app: &AppRecord,
        process: &ReleaseProcess,
    ) -> Result<ProcessOptions> {
        let Some(sealed) = &process.options_sealed else {
            return Ok(ProcessOptions::default());
        };
        let json = self
            .secrets()
            .open(&format!("release-options/{}", app.id), sealed)?;
        serde_json::from_slice(&json)
            .map_err(|e| PlatformError::Internal(format!("process options: {e}")))
    }
}

/// What `berth` prints when a process was killed for its memory limit.
fn out_of_memory_message(limits: &Limits) -> String {
    match limits.memory_bytes {
        Some(bytes) => format!(
            "Process exceeded its memory limit ({}) and was killed",
            mebibytes(bytes)
        ),
        None => "Process exceeded the memory it may use and was killed".to_string(),
    }
}

/// `64 MiB`, `1.5 GiB`-ish, as people read sizes.
fn mebibytes(bytes: u64) -> String {
    let text = format_memory(bytes);
    match text.chars().last() {
        Some('k') => format!("{} KiB", &text[..text.len() - 1]),
        Some('m') => format!("{} MiB", &text[..text.len() - 1]),
        Some('g') => format!("{} GiB", &text[..text.len() - 1]),
        Some('t') => format!("{} TiB", &text[..text.len() - 1]),
        _ => format!("{text} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_memory_says_the_limit() {
        let limits = Limits {
            memory_bytes: Some(64 << 20),
            nano_cpus: None,
        };
        assert_eq!(
            out_of_memory_message(&limits),
            "Process exceeded its memory limit (64 MiB) and was killed"
        );
        assert_eq!(mebibytes(1 << 30), "1 GiB");
        assert_eq!(mebibytes(7_000_001), "7000001 bytes");
    }
}
