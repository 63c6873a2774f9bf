//! Building images from a tar context, and finding and removing them.

use std::collections::HashMap;
use std::pin::Pin;

use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::models::ImageSummary;
use bollard::query_parameters::{
    BuildImageOptions, CreateImageOptions, ListImagesOptions, PushImageOptions, RemoveImageOptions,
    TagImageOptions,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::error::{api, status_of};
use crate::identity;
use crate::request_metrics::timed;
use crate::{DockerError, Engine};

/// A build context as an uncompressed tar, chunk by chunk as it is made. An
/// error item aborts the upload, so the engine never builds from a context cut
/// short.
pub type ContextStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// One image build: a tar of the build context, the Dockerfile's path inside
/// it, and what to call and label the result.
pub struct BuildRequest {
    /// The context, streamed to the engine as it comes: a context of any size
    /// costs the same memory.
    pub context_tar: ContextStream,
    /// Path of the Dockerfile inside the tar.
    pub dockerfile: String,
    /// The stage to build, for a multi-stage Dockerfile.
    pub target: Option<String>,
    pub tag: String,
    pub labels: HashMap<String, String>,
    pub build_args: HashMap<String, String>,
}

impl std::fmt::Debug for BuildRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildRequest")
            .field("dockerfile", &self.dockerfile)
            .field("target", &self.target)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

/// Where images go so that every host of a swarm can pull them.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageRegistry {
    /// `HOST:PORT` (`registry.internal:5000`).
    pub address: String,
    pub credentials: Option<RegistryCredentials>,
}

/// A user name and password for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for ImageRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageRegistry")
            .field("address", &self.address)
            .field(
                "username",
                &self.credentials.as_ref().map(|c| c.username.as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl ImageRegistry {
    /// A registry that needs no login.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            credentials: None,
        }
    }

    /// What the registry calls the image tagged `tag` on an engine:
    /// `berth/shop:v12-web` → `HOST:PORT/berth/shop:v12-web`.
    pub fn reference(&self, tag: &str) -> String {
        format!("{}/{tag}", self.address)
    }

    /// The credentials in the engine's form, for pushes and for the pulls
    /// of a service's tasks.
    pub(crate) fn docker_credentials(&self) -> Option<DockerCredentials> {
        self.credentials
            .as_ref()
            .map(|credentials| credentials.for_registry(&self.address))
    }
}

impl RegistryCredentials {
    fn for_registry(&self, address: &str) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: Some(address.to_string()),
            ..Default::default()
        }
    }
}

/// `HOST:PORT/berth/shop:v12-web` → (`HOST:PORT/berth/shop`, `v12-web`);
/// without a tag, `latest`.
fn split_reference(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, tag),
        _ => (reference, "latest"),
    }
}

/// Whether the image name `tag` (`berth/shop:v12-web`,
/// `HOST:PORT/berth/shop:v12-web`) lies in `repository` (`berth/shop`) or in
/// that repository of some registry.
fn is_in_repository(tag: &str, repository: &str) -> bool {
    let (name, _) = split_reference(tag);
    name == repository
        || name
            .strip_suffix(repository)
            .is_some_and(|registry| registry.ends_with('/'))
}

/// The registry part of a reference (`HOST:PORT` of `HOST:PORT/repo:tag`).
fn registry_of(reference: &str) -> &str {
    reference
        .split_once('/')
        .map_or(reference, |(registry, _)| registry)
}

impl Engine {
    /// Gives the image `source` (a tag or id) the name `reference` too
    /// (`HOST:PORT/berth/shop:v12-web`). A missing `source` is
    /// [`DockerError::NoImage`].
    pub async fn tag_image(&self, source: &str, reference: &str) -> Result<(), DockerError> {
        let (repository, tag) = split_reference(reference);
        let options = TagImageOptions {
            repo: Some(repository.to_string()),
            tag: Some(tag.to_string()),
        };
        match timed("image_tag", self.docker.tag_image(source, Some(options))).await {
            Ok(()) => Ok(()),
            Err(error) if status_of(&error) == Some(404) => Err(DockerError::NoImage {
                image: source.to_string(),
                host: self.host().to_string(),
            }),
            Err(error) => Err(api(format!("tag image {source} as {reference}"))(error)),
        }
    }

    /// Pulls `reference` (`HOST:PORT/repository:tag`) from the registry it
    /// names. A registry that lacks the image, refuses the pull or that the
    /// engine cannot reach is [`DockerError::Pull`] with the engine's reason.
    pub async fn pull_image(
        &self,
        reference: &str,
        credentials: Option<&RegistryCredentials>,
    ) -> Result<(), DockerError> {
        let (repository, tag) = split_reference(reference);
        let registry = registry_of(reference);
        let refused = |reason: String| DockerError::Pull {
            registry: registry.to_string(),
            image: reference.to_string(),
            reason,
        };
        let options = CreateImageOptions {
            from_image: Some(repository.to_string()),
            tag: Some(tag.to_string()),
            ..Default::default()
        };
        let credentials = credentials.map(|credentials| credentials.for_registry(registry));
        let mut progress = self.docker.create_image(Some(options), None, credentials);
        while let Some(message) = progress.next().await {
            match message {
                Ok(_) => {}
                Err(BollardError::DockerStreamError { error }) => return Err(refused(error)),
                Err(BollardError::DockerResponseServerError { message, .. }) => {
                    return Err(refused(message))
                }
                Err(error) => return Err(api(format!("pull image {reference}"))(error)),
            }
        }
        Ok(())
    }

    /// Pushes `reference` (`HOST:PORT/repository:tag`) to the registry it
    /// names, calling `on_status` with the engine's summary of the pushed
    /// image (`v12-web: digest: sha256:… size: 739`). A registry that
    /// refuses the push, or that the engine cannot reach, is
    /// [`DockerError::Push`] with the engine's reason.
    pub async fn push_image(
        &self,
        reference: &str,
        credentials: Option<&RegistryCredentials>,
        mut on_status: impl FnMut(&str) + Send,
    ) -> Result<(), DockerError> {
        let (repository, tag) = split_reference(reference);
        let registry = registry_of(reference);
        let refused = |reason: String| DockerError::Push {
            registry: registry.to_string(),
            image: reference.to_string(),
            reason,
        };
        let options = PushImageOptions {
            tag: Some(tag.to_string()),
            ..Default::default()
        };
        let credentials = credentials.map(|credentials| credentials.for_registry(registry));
        let mut progress = self
            .docker
            .push_image(repository, Some(options), credentials);
        while let Some(message) = progress.next().await {
            let info = match message {
                Ok(info) => info,
                // The image itself is missing: no registry was asked.
                Err(error) if status_of(&error) == Some(404) => {
                    return Err(api(format!("push image {reference}"))(error))
                }
                Err(BollardError::DockerStreamError { error }) => return Err(refused(error)),
                Err(BollardError::DockerResponseServerError { message, .. }) => {
                    return Err(refused(message))
                }
                Err(error) => return Err(api(format!("push image {reference}"))(error)),
            };
            if let Some(detail) = info.error_detail {
                let reason = detail
                    .message
                    .unwrap_or_else(|| "the push failed".to_string());
                return Err(refused(reason));
            }
            if let Some(status) = info.status.as_deref().filter(|s| s.contains("digest:")) {
                on_status(status);
            }
        }
        Ok(())
    }

    /// Builds and tags an image, calling `on_output` with each line of build
    /// output as it arrives ("Step 1/4 : FROM scratch", " ---> 3f2a…", the
    /// `RUN` steps' own output…), and returns the image id.
    ///
    /// A failed build is [`DockerError::Build`] with Docker's text. The layer
    /// cache is used, and intermediate containers are removed even when a
    /// step fails.
    pub async fn build_image(
        &self,
        request: BuildRequest,
        mut on_output: impl FnMut(&str) + Send,
    ) -> Result<String, DockerError> {
        let BuildRequest {
            context_tar,
            dockerfile,
            target,
            tag,
            labels,
            build_args,
        } = request;
        let context = format!("build image {tag}");
        let options = BuildImageOptions {
            dockerfile,
            t: Some(tag.clone()),
            target: target.unwrap_or_default(),
            labels: Some(labels),
            buildargs: Some(build_args),
            rm: true,
            forcerm: true,
            ..Default::default()
        };
        let mut output = LineBuffer::default();
        let mut image_id = None;
        let mut messages =
            self.docker
                .build_image(options, None, Some(bollard::body_try_stream(context_tar)));
        while let Some(message) = messages.next().await {
            let info = match message {
                Ok(info) => info,
                Err(error) => {
                    output.finish(&mut on_output);
                    return Err(build_error(error, context));
                }
            };
            if let Some(detail) = info.error_detail {
                // bollard turns these into errors itself; be sure anyway.
                output.finish(&mut on_output);
                let message = detail.message.unwrap_or_else(|| "the build failed".into());
                return Err(DockerError::Build { message });
            }
            if let Some(text) = &info.stream {
                output.push(text, &mut on_output);
            }
            if let Some(status) = &info.status {
                // Pull progress of base images: one line per status, not
                // every progress tick.
                if info.progress_detail.is_none() {
                    match &info.id {
                        Some(id) => on_output(&format!("{id}: {status}")),
                        None => on_output(status),
                    }
                }
            }
            if let Some(id) = info.aux.and_then(|aux| aux.id) {
                image_id = Some(id);
            }
        }
        output.finish(&mut on_output);
        match image_id {
            Some(id) => Ok(id),
            // Older engines do not always send the id as `aux`.
            None => {
                let image = timed("image_inspect", self.docker.inspect_image(&tag))
                    .await
                    .map_err(api(format!("inspect built image {tag}")))?;
                image.id.ok_or_else(|| DockerError::Build {
                    message: format!("the engine reported no image for {tag}"),
                })
            }
        }
    }

    /// Whether an image with this tag (or id) exists on the engine.
    pub async fn image_exists(&self, tag: &str) -> Result<bool, DockerError> {
        match timed("image_inspect", self.docker.inspect_image(tag)).await {
            Ok(_) => Ok(true),
            Err(error) if status_of(&error) == Some(404) => Ok(false),
            Err(error) => Err(api(format!("inspect image {tag}"))(error)),
        }
    }

    /// Removes `app`'s images: every tag in the app's own repositories
    /// (`berth/<app>`, and `<registry>/berth/<app>` on a swarm), whichever
    /// image carries it, then the app's images left with no tag, with the
    /// untagged layers under them. Another app's tag on one of these images
    /// (a release promoted from this app runs it there) stays, and so does
    /// the image. Images that a container still uses are left in place,
    /// not an error.
    pub async fn remove_app_images(&self, app: &str) -> Result<(), DockerError> {
        let repository = identity::app_image_repository(app);
        // Every app's images: a copy promoted to this app is labelled for
        // the app it was built for.
        for image in self.images_of_apps().await? {
            let mut names: Vec<String> = tags(&image)
                .filter(|tag| is_in_repository(tag, &repository))
                .map(str::to_string)
                .collect();
            let untagged = tags(&image).next().is_none();
            if untagged && image.labels.get(identity::APP).map(String::as_str) == Some(app) {
                names.push(image.id);
            }
            for name in names {
                self.remove_image(&name).await?;
            }
        }
        Ok(())
    }

    /// Removes every app image an engine holds, tag by tag: for an engine
    /// that leaves the platform (a swarm engine serves one platform).
    pub async fn remove_platform_images(&self) -> Result<(), DockerError> {
        for image in self.images_of_apps().await? {
            let mut names: Vec<String> = tags(&image).map(str::to_string).collect();
            if names.is_empty() {
                names.push(image.id);
            }
            for name in names {
                self.remove_image(&name).await?;
            }
        }
        Ok(())
    }

    /// The images built for any app (labelled `berth.app`).
    async fn images_of_apps(&self) -> Result<Vec<ImageSummary>, DockerError> {
        let options = ListImagesOptions {
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![identity::APP.to_string()],
            )])),
            ..Default::default()
        };
        timed("image_list", self.docker.list_images(Some(options)))
            .await
            .map_err(api(format!("list images labelled {}", identity::APP)))
    }

    /// Removes an image by tag or id (untagging it when it has other tags).
    /// A missing image, or one a container uses, is left alone, not an error.
    pub async fn remove_image(&self, name: &str) -> Result<(), DockerError> {
        let options = RemoveImageOptions {
            force: false,
            noprune: false,
            platforms: None,
        };
        match timed(
            "image_remove",
            self.docker.remove_image(name, Some(options), None),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(error) if matches!(status_of(&error), Some(404 | 409)) => {
                tracing::debug!(image = %name, %error, "image left in place");
                Ok(())
            }
            Err(error) => Err(api(format!("remove image {name}"))(error)),
        }
    }
}

/// An image's names, without the engine's `<none>:<none>` placeholder.
fn tags(image: &ImageSummary) -> impl Iterator<Item = &str> {
    image
        .repo_tags
        .iter()
        .map(String::as_str)
        .filter(|tag| *tag != "<none>:<none>")
}

/// `[("berth.app", "demo")]` → `["berth.app=demo"]`, the engine's filter form.
pub(crate) fn label_filter(labels: &[(&str, &str)]) -> Vec<String> {
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// Errors the engine reports about the build itself (in the stream, or as
/// the answer to the request: "Cannot locate specified Dockerfile") are the
/// app's; the rest are the engine's.
fn build_error(error: BollardError, context: String) -> DockerError {
    match error {
        BollardError::DockerStreamError { error } => DockerError::Build { message: error },
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } if (400..600).contains(&status_code) && status_code != 404 => {
            DockerError::Build { message }
        }
        error => api(context)(error),
    }
}

/// Cuts streamed text into lines: the engine sends build output in chunks
/// that may hold several lines or part of one.
#[derive(Default)]
struct LineBuffer {
    partial: String,
}

impl LineBuffer {
    fn push(&mut self, text: &str, on_line: &mut impl FnMut(&str)) {
        self.partial.push_str(text);
        while let Some(end) = self.partial.find('\n') {
            let line = self.partial[..end].trim_end_matches('\r');
            on_line(line);
            self.partial.drain(..=end);
        }
    }

    fn finish(&mut self, on_line: &mut impl FnMut(&str)) {
        if !self.partial.is_empty() {
            on_line(self.partial.trim_end_matches('\r'));
            self.partial.clear();
        }
    }
}

/// The Dockerfile of [`image_only_context`].
pub const IMAGE_ONLY_DOCKERFILE: &str = "Dockerfile";

/// A build context whose Dockerfile is only `FROM <image>`: building it
/// pulls the image if the engine lacks it, and names it as a build would.
/// `image` must be a plain reference (no whitespace), as the manifest
/// parser checks; anything else fails the build.
pub fn image_only_context(image: &str) -> ContextStream {
    let dockerfile = if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        // Never a second instruction: the engine refuses this line.
        "FROM \"\"\n".to_string()
    } else {
        format!("FROM {image}\n")
    };
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let tar = builder
        .append_data(&mut header, IMAGE_ONLY_DOCKERFILE, dockerfile.as_bytes())
        .and_then(|()| builder.into_inner());
    Box::pin(futures_util::stream::once(
        async move { tar.map(Bytes::from) },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_is_cut_into_lines() {
        let mut lines = Vec::new();
        let mut buffer = LineBuffer::default();
        let mut collect = |line: &str| lines.push(line.to_string());
        buffer.push("Step 1/2 : FROM scratch\n ---", &mut collect);
        buffer.push("> abc\r\n\nStep 2/2", &mut collect);
        buffer.finish(&mut collect);
        assert_eq!(
            lines,
            ["Step 1/2 : FROM scratch", " ---> abc", "", "Step 2/2"]
        );
    }

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(
            split_reference("10.0.0.1:5000/berth/shop:v12-web"),
            ("10.0.0.1:5000/berth/shop", "v12-web")
        );
        assert_eq!(
            split_reference("10.0.0.1:5000/berth/shop"),
            ("10.0.0.1:5000/berth/shop", "latest")
        );
        assert_eq!(registry_of("10.0.0.1:5000/berth/shop:v1"), "10.0.0.1:5000");
        assert!(is_in_repository("berth/shop:v12-web", "berth/shop"));
        assert!(is_in_repository(
            "10.0.0.1:5000/berth/shop:v12-web",
            "berth/shop"
        ));
        assert!(!is_in_repository("berth/shop-staging:v3-web", "berth/shop"));
        assert!(!is_in_repository(
            "10.0.0.1:5000/berth/shop-staging:v3-web",
            "berth/shop"
        ));
        assert!(!is_in_repository("xberth/shop:v1-web", "berth/shop"));
        assert!(!is_in_repository("berth/shop/web:v1", "berth/shop"));
        let registry = ImageRegistry::new("registry.internal:5000");
        assert_eq!(
            registry.reference("berth/shop:v12-web"),
            "registry.internal:5000/berth/shop:v12-web"
        );
        assert!(registry.docker_credentials().is_none());
        let with_login = ImageRegistry {
            credentials: Some(RegistryCredentials {
                username: "berth".into(),
                password: "s3cret".into(),
            }),
            ..registry
        };
        assert!(!format!("{with_login:?}").contains("s3cret"));
        let credentials = with_login.docker_credentials().unwrap();
        assert_eq!(
            credentials.serveraddress.as_deref(),
            Some("registry.internal:5000")
        );
    }

    #[test]
    fn labels_become_engine_filters() {
        assert_eq!(
            label_filter(&[("berth.app", "demo"), ("berth.process", "web")]),
            ["berth.app=demo", "berth.process=web"]
        );
    }
}
