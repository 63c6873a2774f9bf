//! The service that runs a dyno, and its name.

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, Limit, Mount, MountType, NetworkAttachmentConfig,
    ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecPrivileges, TaskSpecLogDriver, TaskSpecPlacement,
    TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};

use crate::containers::{log_options, HealthCheck, LOG_DRIVER};
use crate::{ContainerSpec, ProcessIdentity, ProcessSpec, HOST_LABEL, KEPT_CAPABILITIES};

/// Swarm's limit on a service's name.
const SERVICE_NAME_MAX: usize = 63;

/// FNV-1a: a hash that stays the same across builds and machines.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The service of a dyno: `berth-<app>-v<release>-<dyno>-<platform hash>`
/// (`berth-shop-v12-web-1-3f9a1c`). Letters, digits and dashes only, at
/// most 63 characters: a longer name keeps its start and ends with a hash
/// of the whole.
pub(crate) fn service_name(identity: &ProcessIdentity) -> String {
    named(identity, "")
}

/// The name of a second service for a dyno that has one (its replacement
/// on another host, started before the first goes): the dyno's service
/// name with `replacement` (a few hex digits, new each time) after it.
pub(crate) fn replacement_service_name(identity: &ProcessIdentity, replacement: u32) -> String {
    named(identity, &format!("-r{replacement:08x}"))
}

fn named(identity: &ProcessIdentity, suffix: &str) -> String {
    let dyno = identity.dyno.as_deref().unwrap_or(&identity.process_type);
    let platform = stable_hash(&identity.platform) & 0xff_ffff;
    let name: String = format!(
        "berth-{}-v{}-{}-{platform:06x}{suffix}",
        identity.app, identity.release, dyno
    )
    .chars()
    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
    .collect();
    if name.len() <= SERVICE_NAME_MAX {
        return name;
    }
    let whole = stable_hash(&name) & 0xffff_ffff;
    let start = name[..SERVICE_NAME_MAX - 9].trim_end_matches('-');
    format!("{start}-{whole:08x}")
}

/// The constraint that keeps a process on the host holding its volumes
/// (the node labelled with that host's name); `None` for a process free to
/// go anywhere.
pub(crate) fn pinned(spec: &ProcessSpec) -> Option<TaskSpecPlacement> {
    spec.pinned_host.as_ref().map(|host| TaskSpecPlacement {
        constraints: Some(vec![pin_constraint(host)]),
        ..Default::default()
    })
}

fn pin_constraint(host: &str) -> String {
    format!("node.labels.{HOST_LABEL}=={host}")
}

/// Whether a placement pins its service to a host.
pub(crate) fn is_pinned(placement: Option<&TaskSpecPlacement>) -> bool {
    placement
        .and_then(|placement| placement.constraints.as_ref())
        .is_some_and(|constraints| {
            constraints
                .iter()
                .any(|c| c.starts_with(&format!("node.labels.{HOST_LABEL}==")))
        })
}

/// The service that runs a dyno: one replica of its container as the
/// single engine would make it (`ProcessSpec::container`), with the same
/// hardening, on the app's overlay network, never restarted by Swarm.
pub(crate) fn service_spec(spec: &ProcessSpec) -> ServiceSpec {
    let container: ContainerSpec = spec.swarm_container();
    let stop_grace = i64::try_from(spec.stop_grace.as_nanos()).unwrap_or(i64::MAX);
    let container_spec = TaskSpecContainerSpec {
        image: Some(container.image),
        // `cmd` replaces the image's CMD; its entrypoint stays unless replaced.
        args: container.cmd,
        command: container.run.entrypoint,
        dir: container.run.working_dir,
        user: container.run.user,
        stop_signal: container.run.stop_signal,
        health_check: container.run.health.as_ref().map(HealthCheck::config),
        env: Some(
            container
                .env
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect(),
        ),
        labels: Some(container.labels.clone()),
        init: Some(true),
        stop_grace_period: Some(stop_grace),
        capability_drop: Some(vec!["ALL".into()]),
        capability_add: Some(KEPT_CAPABILITIES.iter().map(|c| c.to_string()).collect()),
        mounts: (!container.volumes.is_empty()).then(|| {
            container
                .volumes
                .iter()
                .map(|(volume, path)| Mount {
                    target: Some(path.clone()),
                    source: Some(volume.clone()),
                    typ: Some(MountType::VOLUME),
                    ..Default::default()
                })
                .collect()
        }),
        // Honoured by engines newer than 20.10, which ignores it.
        privileges: Some(TaskSpecContainerSpecPrivileges {
            no_new_privileges: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let task_template = TaskSpec {
        container_spec: Some(container_spec),
        resources: Some(TaskSpecResources {
            limits: Some(Limit {
                memory_bytes: container.limits.memory_bytes,
                pids: container.limits.pids,
                nano_cpus: container.limits.nano_cpus,
            }),
            ..Default::default()
        }),
        placement: pinned(spec),
        restart_policy: Some(TaskSpecRestartPolicy {
            condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
            ..Default::default()
        }),
        networks: container.network.map(|network| {
            vec![NetworkAttachmentConfig {
                target: Some(network),
                aliases: container.network_alias.map(|alias| vec![alias]),
                ..Default::default()
            }]
        }),
        log_driver: Some(TaskSpecLogDriver {
            name: Some(LOG_DRIVER.into()),
            options: Some(log_options()),
        }),
        ..Default::default()
    };
    let ports = container.publish_port.map(|port| {
        vec![EndpointPortConfig {
            protocol: Some(EndpointPortConfigProtocolEnum::TCP),
            target_port: Some(i64::from(port)),
            // No published port: the host picks a free one.
            published_port: None,
            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
            ..Default::default()
        }]
    });
    ServiceSpec {
        name: Some(service_name(&spec.identity)),
        labels: Some(container.labels),
        task_template: Some(task_template),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
            ..Default::default()
        }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::CONTINUE),
            order: Some(ServiceSpecUpdateConfigOrderEnum::STOP_FIRST),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::DNSRR),
            ports,
        }),
        ..Default::default()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use std::time::Duration;

    use crate::{Attachment, Limits, RunOptions};

    pub(crate) fn web_1() -> ProcessIdentity {
        ProcessIdentity {
            platform: "4f1c2a".into(),
            app: "shop".into(),
            release: 12,
            process_type: "web".into(),
            dyno: Some("web.1".into()),
            oneoff: None,
        }
    }

    pub(crate) fn web_spec() -> ProcessSpec {
        ProcessSpec {
            identity: web_1(),
            image: "10.0.0.1:5000/berth/shop:v12-web".into(),
            cmd: Some(vec!["/bin/sh".into(), "-c".into(), "exec httpd".into()]),
            env: vec![("PORT".into(), "5000".into())],
            web_port: Some(5000),
            stop_grace: Duration::from_secs(30),
            limits: Limits {
                memory_bytes: Some(512 << 20),
                pids: Some(256),
                nano_cpus: Some(250_000_000),
            },
            run: RunOptions {
                working_dir: Some("/srv".into()),
                ..Default::default()
            },
            mounts: Vec::new(),
            pinned_host: None,
        }
    }
    #[test]
    fn service_names_are_short_unique_and_dotless() {
        let name = service_name(&web_1());
        assert!(name.starts_with("berth-shop-v12-web-1-"), "{name}");
        assert_eq!(name, service_name(&web_1()), "stable");
        let other_platform = ProcessIdentity {
            platform: "9e0d11".into(),
            ..web_1()
        };
        assert_ne!(name, service_name(&other_platform));
        let release_command = ProcessIdentity {
            dyno: None,
            process_type: "release".into(),
            ..web_1()
        };
        assert!(service_name(&release_command).starts_with("berth-shop-v12-release-"));

        let long = ProcessIdentity {
            app: "a".repeat(30),
            process_type: "worker_with_a_long_name".into(),
            dyno: Some("worker_with_a_long_name.12".into()),
            release: 123_456,
            ..web_1()
        };
        let long_name = service_name(&long);
        assert!(long_name.len() <= SERVICE_NAME_MAX, "{long_name}");
        assert!(long_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-'));
        let other_dyno = ProcessIdentity {
            dyno: Some("worker_with_a_long_name.13".into()),
            ..long.clone()
        };
        assert_ne!(long_name, service_name(&other_dyno));

        let replacement = replacement_service_name(&web_1(), 0x1234);
        assert!(replacement.starts_with(&name), "{replacement}");
        assert_ne!(replacement, replacement_service_name(&web_1(), 0x1235));
        let long_replacement = replacement_service_name(&long, 7);
        assert!(long_replacement.len() <= SERVICE_NAME_MAX);
        assert_ne!(long_replacement, long_name);
    }

    #[test]
    fn a_web_dyno_is_a_hardened_one_replica_service_publishing_in_host_mode() {
        let spec = service_spec(&web_spec());
        assert_eq!(spec.labels, Some(web_1().labels()));
        let replicated = spec.mode.unwrap().replicated.unwrap();
        assert_eq!(replicated.replicas, Some(1));
        let endpoint = spec.endpoint_spec.unwrap();
        assert_eq!(endpoint.mode, Some(EndpointSpecModeEnum::DNSRR));
        let port = &endpoint.ports.unwrap()[0];
        assert_eq!(port.target_port, Some(5000));
        assert_eq!(port.published_port, None, "an ephemeral port");
        assert_eq!(
            port.publish_mode,
            Some(EndpointPortConfigPublishModeEnum::HOST)
        );
        let update = spec.update_config.unwrap();
        assert_eq!(
            update.failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::CONTINUE)
        );

        let task = spec.task_template.unwrap();
        assert_eq!(
            task.restart_policy.unwrap().condition,
            Some(TaskSpecRestartPolicyConditionEnum::NONE),
            "the platform restarts crashed dynos, not Swarm"
        );
        let limits = task.resources.unwrap().limits.unwrap();
        assert_eq!(limits.memory_bytes, Some(512 << 20));
        assert_eq!(limits.pids, Some(256));
        assert_eq!(limits.nano_cpus, Some(250_000_000));
        let network = &task.networks.unwrap()[0];
        assert_eq!(network.target.as_deref(), Some("berth-shop_swarm"));
        assert_eq!(network.aliases, Some(vec!["web".to_string()]));
        let log = task.log_driver.unwrap();
        assert_eq!(log.name.as_deref(), Some("json-file"));
        assert_eq!(log.options.unwrap()["max-size"], "10m");

        let container = task.container_spec.unwrap();
        assert_eq!(
            container.labels,
            Some(web_1().labels()),
            "on every task's container"
        );
        assert_eq!(
            container.image.as_deref(),
            Some("10.0.0.1:5000/berth/shop:v12-web")
        );
        assert_eq!(container.command, None, "the image's entrypoint stays");
        assert_eq!(container.args.unwrap()[2], "exec httpd");
        assert_eq!(container.env, Some(vec!["PORT=5000".to_string()]));
        assert_eq!(container.init, Some(true));
        assert_eq!(container.stop_grace_period, Some(30_000_000_000));
        assert_eq!(container.capability_drop, Some(vec!["ALL".to_string()]));
        let kept = container.capability_add.unwrap();
        assert!(kept.iter().any(|c| c == "KILL"));
        assert!(!kept.iter().any(|c| c == "NET_RAW"));
    }

    #[test]
    fn a_dyno_with_volumes_mounts_them_and_stays_on_their_host() {
        let spec = ProcessSpec {
            mounts: vec![crate::VolumeMount {
                volume: "berth-shop.uploads".into(),
                path: "/data".into(),
            }],
            pinned_host: Some("h2".into()),
            ..web_spec()
        };
        let task = service_spec(&spec).task_template.unwrap();
        let mount = &task.container_spec.unwrap().mounts.unwrap()[0];
        assert_eq!(mount.source.as_deref(), Some("berth-shop.uploads"));
        assert_eq!(mount.target.as_deref(), Some("/data"));
        assert_eq!(mount.typ, Some(MountType::VOLUME));
        assert_eq!(
            task.placement.as_ref().unwrap().constraints,
            Some(vec!["node.labels.berth.host==h2".to_string()])
        );
        assert!(is_pinned(task.placement.as_ref()));
        let free = service_spec(&web_spec()).task_template.unwrap();
        assert_eq!(free.placement, None);
        assert_eq!(free.container_spec.unwrap().mounts, None);
    }

    #[test]
    fn a_worker_publishes_nothing_and_a_oneoff_has_no_alias() {
        let worker = ProcessSpec {
            identity: ProcessIdentity {
                process_type: "worker".into(),
                dyno: Some("worker.2".into()),
                ..web_1()
            },
            web_port: None,
            ..web_spec()
        };
        let spec = service_spec(&worker);
        assert_eq!(spec.endpoint_spec.unwrap().ports, None);
        let oneoff = ProcessSpec {
            identity: ProcessIdentity {
                process_type: "run".into(),
                dyno: Some("run.1".into()),
                oneoff: Some(Attachment::Detached),
                ..web_1()
            },
            web_port: None,
            ..web_spec()
        };
        let task = service_spec(&oneoff).task_template.unwrap();
        assert_eq!(task.networks.unwrap()[0].aliases, None);
    }
}
