//! The deployment files in `deploy/`: the container image's layout, served
//! the way a container serves it, and the Kubernetes manifests, checked
//! against the config they mount and the binary's routes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::remote_support::{Remote, call};
use crate::support::{Plugins, Revision, ok_text};

/// The repository's `deploy/` folder.
fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// The `text`, `time` and `files` example plugins with their manifests.
fn examples() -> Plugins {
    let manifests = warden_test_artifacts::examples_manifest_dir();
    let mut plugins = Plugins::new();
    let wanted = [
        ("text", warden_test_artifacts::TEXT_WASM),
        ("time", warden_test_artifacts::TIME_WASM),
        ("files", warden_test_artifacts::FILES_WASM),
    ];
    for (name, wasm) in wanted {
        let manifest = std::fs::read_to_string(manifests.join(format!("{name}.toml"))).unwrap();
        plugins = plugins.component(name, wasm).manifest(name, &manifest);
    }
    plugins
}

/// The unprivileged user the image runs as (`USER` in the Dockerfile).
const UID: &str = "65532";

#[tokio::test]
async fn the_image_layout_serves_read_only_as_an_unprivileged_user() {
    let user = Command::new("id").arg("-u").output().expect("run id -u");
    assert!(
        String::from_utf8_lossy(&user.stdout).trim() == "0",
        "this test mounts read-only bind mounts and drops to user {UID}: run it as root"
    );
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let examples = examples();
    let warden = Path::new(crate::support::WARDEN);

    // What the Dockerfile's build stage does, as root.
    let installed = Command::new(deploy().join("image/install"))
        .arg(&image)
        .arg(warden)
        .arg(examples.path())
        .output()
        .expect("run deploy/image/install");
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let home = image.join("srv/warden");
    assert!(home.join("warden.lock").is_file());
    // The temporary folder is root's, mode 0700: let the user reach the image.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    // What the container runs: everything read-only but a scratch folder
    // (an emptyDir in Kubernetes), as an unprivileged user.
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    std::fs::set_permissions(
        &scratch,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let script = format!(
        "set -e; mount --bind -o ro '{image}' '{image}'; \
         mount --bind '{scratch}' '{home}/examples/workspace/scratch'; \
         cd '{home}'; \
         exec setpriv --reuid={UID} --regid={UID} --clear-groups --no-new-privs \
         '{image}/usr/local/bin/warden' --log-format json serve --http 127.0.0.1:0 \
         --config '{home}/warden.toml'",
        image = image.display(),
        scratch = scratch.display(),
        home = home.display(),
    );
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "sh", "-c", &script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", "/nonexistent")
        .env("WARDEN_HTTP_TOKEN", "image-token-4f1e")
        .env("WARDEN_REPLICA_ID", "warden-7c9d")
        .env("WARDEN_WAIT_FOR_PLUGINS", "1")
        .env("WARDEN_LOG", "warden=debug");
    let remote = Remote::spawn(command);

    // Every example was served from the cache the build filled.
    let log = remote.stderr();
    let prepared: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["fields"]["message"] == "plugin prepared")
        .collect();
    assert!(!prepared.is_empty(), "{log}");
    for event in &prepared {
        assert_eq!(
            event["fields"]["compiled"], "cache",
            "compiled at start: {event}"
        );
    }
    assert!(!log.contains("cache disabled"), "{log}");
    assert!(!log.contains("\"level\":\"WARN\""), "{log}");

    let ready = reqwest::get(remote.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["plugins"]["failed"], 0, "{ready}");

    let client = remote
        .client(Revision::Legacy, Some("image-token-4f1e"))
        .await;
    let encoded = call(
        &client,
        "text_base64_encode",
        json!({ "text": "read-only" }),
    )
    .await;
    assert!(ok_text(&encoded).contains("cmVhZC1vbmx5"), "{encoded:?}");
    // Directory grants resolve inside the image, and the one read-write
    // grant is the scratch volume.
    let read = call(
        &client,
        "files_read",
        json!({ "path": "/workspace/welcome.md" }),
    )
    .await;
    assert!(!ok_text(&read).is_empty());
    std::fs::write(scratch.join("from-the-volume.txt"), "x").unwrap();
    let listed = call(&client, "files_list", json!({ "path": "/scratch" })).await;
    assert!(
        ok_text(&listed).contains("from-the-volume.txt"),
        "{listed:?}"
    );
    client.cancel().await.unwrap();
}

/// The YAML documents of `deploy/kubernetes/NAME`.
fn manifest(name: &str) -> Value {
    let path = deploy().join("kubernetes").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn kubernetes_manifests_agree_with_the_config_and_the_binary() {
    let kustomization = manifest("kustomization.yaml");
    for resource in kustomization["resources"].as_array().unwrap() {
        let name = resource.as_str().unwrap();
        assert!(
            deploy().join("kubernetes").join(name).is_file(),
            "{name} is listed"
        );
    }

    // The config the ConfigMap mounts is one Warden accepts.
    let configmap = manifest("configmap.yaml");
    let text = configmap["data"]["warden.toml"].as_str().unwrap();
    let config = warden::config::Config::parse(text, Path::new("/etc/warden/warden.toml"))
        .unwrap_or_else(|e| panic!("the ConfigMap's warden.toml: {e}"));
    let http = &config.http;

    let deployment = manifest("deployment.yaml");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        ["serve", "--http", "--config", "/etc/warden/warden.toml"]
    );
    assert_eq!(
        container["ports"][0]["containerPort"].as_u64(),
        Some(u64::from(http.addr.port()))
    );
    assert!(
        http.addr.ip().is_unspecified(),
        "reachable from the Service"
    );

    // Probes name the binary's open routes.
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    // The readiness probe notices the drain before requests are refused.
    let period = container["readinessProbe"]["periodSeconds"]
        .as_u64()
        .unwrap();
    let failures = container["readinessProbe"]["failureThreshold"]
        .as_u64()
        .unwrap();
    assert!(http.drain_delay.as_secs() > period * failures);
    // Draining and the requests in flight fit in the grace period.
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!((http.drain_delay + http.shutdown_timeout).as_secs() < grace);

    // The token and the replica id come from the environment Warden reads.
    let env = container["env"].as_array().unwrap();
    let var = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} is set"))
    };
    assert!(var(&http.token_env)["valueFrom"]["secretKeyRef"].is_object());
    assert_eq!(
        var("WARDEN_REPLICA_ID")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );

    // Unprivileged, read-only; the config mounted read-only at the path the
    // arguments name, and the audit log on a writable volume.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["runAsUser"]
            .as_u64()
            .unwrap()
            .to_string(),
        UID
    );
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    let mounts = container["volumeMounts"].as_array().unwrap();
    let mount = |path: &str| {
        mounts
            .iter()
            .find(|m| path.starts_with(m["mountPath"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{path} is on a volume"))
    };
    assert_eq!(mount("/etc/warden/warden.toml")["readOnly"], true);
    let audit = config.audit.file.as_ref().expect("an audit file");
    assert_ne!(mount(audit.to_str().unwrap())["readOnly"], true);
    assert!(
        config.plugins_dir.starts_with("/srv/warden"),
        "plugins from the image"
    );

    // The autoscaler and the disruption budget point at the Deployment's
    // pods.
    let hpa = manifest("hpa.yaml");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"]["name"],
        deployment["metadata"]["name"]
    );
    let labels = &deployment["spec"]["selector"]["matchLabels"];
    assert_eq!(
        &deployment["spec"]["template"]["metadata"]["labels"],
        labels
    );
    assert_eq!(
        &manifest("pdb.yaml")["spec"]["selector"]["matchLabels"],
        labels
    );
    assert_eq!(&manifest("service.yaml")["spec"]["selector"], labels);
}
