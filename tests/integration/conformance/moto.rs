//! What moto's ECR (pinned in scripts/requirements-test.txt) does for "promote by environment
//! tag", pinned down against its server: where it is faithful to ECR the product's tests may use
//! it; where it is not, they use the ECR stand-in. A moto upgrade that changes any of this fails
//! here first.

use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::types::{
    DescribeImagesFilter, ImageIdentifier, ImageStatusFilter, ImageTagMutability,
    ImageTagMutabilityExclusionFilter, ImageTagMutabilityExclusionFilterType,
};
use serde_json::json;

use super::block_on;
use crate::helpers::ecr::{OCI_INDEX, OCI_MANIFEST, digest_of};
use crate::helpers::{REGION, ecr_client, unique};

fn manifest(config: u64, layers: &[u64]) -> String {
    json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 7, "digest": format!("sha256:{config:064x}")},
           "layers": layers.iter().map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 100, "digest": format!("sha256:{l:064x}")})).collect::<Vec<_>>()})
    .to_string()
}

fn tag(t: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_tag(t).build()
}

fn code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(r: Result<T, E>) -> String {
    r.expect_err("the call should fail")
        .code()
        .unwrap_or("?")
        .to_string()
}

/// moto's digest is not the SHA-256 of the manifest: it hashes the layer digests joined, so
/// every manifest without layers gets sha256 of the empty string, and two manifests with the
/// same layers share a digest (so `helpers::seed` gives each tag a layer of its own); an
/// `imageDigest` sent is taken as is.
#[test]
fn moto_digests_hash_the_layer_digests_not_the_manifest() {
    let repo = unique("moto-digest");
    block_on(async {
        let c = ecr_client(REGION).await;
        c.create_repository()
            .repository_name(&repo)
            .send()
            .await
            .unwrap();
        let put = |m: String, t: &'static str| {
            let (c, repo) = (c.clone(), repo.clone());
            async move {
                let out = c
                    .put_image()
                    .repository_name(repo)
                    .image_manifest(m)
                    .image_tag(t)
                    .send()
                    .await
                    .unwrap();
                out.image()
                    .unwrap()
                    .image_id()
                    .unwrap()
                    .image_digest()
                    .unwrap()
                    .to_string()
            }
        };
        let empty = put(manifest(1, &[]), "no-layers").await;
        assert_eq!(empty, digest_of(""), "no layers: sha256 of nothing");
        assert_ne!(empty, digest_of(&manifest(1, &[])));
        let a = put(manifest(2, &[9]), "a").await;
        let b = put(manifest(3, &[9]), "b").await;
        assert_eq!(a, b, "other configs, same layers, one digest");
        assert_eq!(a, digest_of(&format!("sha256:{:064x}", 9)));
        let out = c
            .put_image()
            .repository_name(&repo)
            .image_manifest(manifest(4, &[8]))
            .image_tag("c")
            .image_digest(format!("sha256:{:064x}", 0xf))
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.image().unwrap().image_id().unwrap().image_digest(),
            Some(format!("sha256:{:064x}", 0xf).as_str()),
            "a wrong imageDigest is accepted"
        );
    });
}

/// Faithful: PutImage keeps `imageManifestMediaType` and returns it; a retag of an index keeps
/// its digest and type; the same tag on the same image is ImageAlreadyExistsException.
/// Not faithful: an index's digest is random (below).
/// Not faithful: BatchGetImage ignores `acceptedMediaTypes` (moto's docstring says so): an
/// index comes back as the index whatever is accepted.
#[test]
fn moto_keeps_media_types_but_ignores_accepted_media_types() {
    let repo = unique("moto-index");
    let child = manifest(5, &[6]);
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "size": child.len(), "digest": digest_of(&child), "platform": {"os": "linux", "architecture": "amd64"}}]})
    .to_string();
    block_on(async {
        let c = ecr_client(REGION).await;
        c.create_repository()
            .repository_name(&repo)
            .send()
            .await
            .unwrap();
        c.put_image()
            .repository_name(&repo)
            .image_manifest(&child)
            .send()
            .await
            .unwrap();
        let put = c
            .put_image()
            .repository_name(&repo)
            .image_manifest(&index)
            .image_manifest_media_type(OCI_INDEX)
            .image_tag("v1")
            .send()
            .await
            .unwrap();
        let digest = put
            .image()
            .unwrap()
            .image_id()
            .unwrap()
            .image_digest()
            .unwrap()
            .to_string();
        assert_eq!(
            put.image().unwrap().image_manifest_media_type(),
            Some(OCI_INDEX)
        );
        // An index has no layers: moto gives it the SHA-256 of a random number from 0 to 100,
        // so two indexes can share a digest.
        assert_ne!(digest, digest_of(&index));
        assert!(
            (0..=100).any(|n: u32| digest == digest_of(&n.to_string())),
            "{digest}"
        );
        let only_manifests = c
            .batch_get_image()
            .repository_name(&repo)
            .image_ids(tag("v1"))
            .accepted_media_types(OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(
            only_manifests.images()[0].image_manifest_media_type(),
            Some(OCI_INDEX),
            "acceptedMediaTypes ignored"
        );
        assert_eq!(
            only_manifests.images()[0].image_manifest(),
            Some(index.as_str())
        );
        let got = c
            .batch_get_image()
            .repository_name(&repo)
            .image_ids(tag("v1"))
            .accepted_media_types(OCI_INDEX)
            .send()
            .await
            .unwrap();
        let image = &got.images()[0];
        let retag = c
            .put_image()
            .repository_name(&repo)
            .image_manifest(image.image_manifest().unwrap())
            .image_manifest_media_type(image.image_manifest_media_type().unwrap())
            .image_tag("qa")
            .send()
            .await
            .unwrap();
        assert_eq!(
            retag.image().unwrap().image_id().unwrap().image_digest(),
            Some(digest.as_str())
        );
        assert_eq!(
            retag.image().unwrap().image_manifest_media_type(),
            Some(OCI_INDEX)
        );
        let again = c
            .put_image()
            .repository_name(&repo)
            .image_manifest(image.image_manifest().unwrap())
            .image_manifest_media_type(OCI_INDEX)
            .image_tag("qa")
            .send()
            .await;
        assert_eq!(code(again), "ImageAlreadyExistsException");
        let details = c
            .describe_images()
            .repository_name(&repo)
            .image_ids(tag("qa"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            details.image_details()[0].image_manifest_media_type(),
            Some(OCI_INDEX)
        );
    });
}

/// Faithful: IMMUTABLE_WITH_EXCLUSION and its filters are stored and described; an excluded
/// tag moves. Not faithful: a refused move is ImageAlreadyExistsException where ECR answers
/// ImageTagAlreadyExistsException, and a WILDCARD filter is matched as a regular expression
/// from the start of the tag (`env-*` matches `envoy`).
#[test]
fn moto_stores_tag_exclusions_but_refuses_with_the_wrong_error_and_matches_a_regex() {
    let repo = unique("moto-immutable");
    block_on(async {
        let c = ecr_client(REGION).await;
        let filter = ImageTagMutabilityExclusionFilter::builder()
            .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
            .filter("env-*")
            .build()
            .unwrap();
        c.create_repository()
            .repository_name(&repo)
            .image_tag_mutability(ImageTagMutability::ImmutableWithExclusion)
            .image_tag_mutability_exclusion_filters(filter)
            .send()
            .await
            .unwrap();
        let described = c
            .describe_repositories()
            .repository_names(&repo)
            .send()
            .await
            .unwrap();
        let r = &described.repositories()[0];
        assert_eq!(
            r.image_tag_mutability(),
            Some(&ImageTagMutability::ImmutableWithExclusion)
        );
        assert_eq!(
            r.image_tag_mutability_exclusion_filters()[0].filter(),
            "env-*"
        );
        let put = |m: String, t: &'static str| {
            let (c, repo) = (c.clone(), repo.clone());
            async move {
                c.put_image()
                    .repository_name(repo)
                    .image_manifest(m)
                    .image_tag(t)
                    .send()
                    .await
            }
        };
        put(manifest(1, &[1]), "env-qa").await.unwrap();
        put(manifest(2, &[2]), "env-qa")
            .await
            .expect("an excluded tag moves");
        put(manifest(1, &[1]), "v1").await.unwrap();
        assert_eq!(
            code(put(manifest(2, &[2]), "v1").await),
            "ImageAlreadyExistsException",
            "ECR: ImageTagAlreadyExistsException"
        );
        put(manifest(1, &[1]), "envoy").await.unwrap();
        put(manifest(2, &[2]), "envoy")
            .await
            .expect("moto: `env-*` as a regex matches `envoy`; ECR's wildcard does not");
    });
    let plain = unique("moto-plain-immutable");
    block_on(async {
        let c = ecr_client(REGION).await;
        c.create_repository()
            .repository_name(&plain)
            .image_tag_mutability(ImageTagMutability::Immutable)
            .send()
            .await
            .unwrap();
        c.put_image()
            .repository_name(&plain)
            .image_manifest(manifest(1, &[1]))
            .image_tag("v1")
            .send()
            .await
            .unwrap();
        let moved = c
            .put_image()
            .repository_name(&plain)
            .image_manifest(manifest(2, &[2]))
            .image_tag("v1")
            .send()
            .await;
        assert_eq!(
            code(moved),
            "ImageAlreadyExistsException",
            "ECR: ImageTagAlreadyExistsException"
        );
    });
}

/// Not faithful: moto has no image status. Its details carry no `imageStatus` and it ignores
/// the `imageStatus` filter, so an archived image cannot be played with moto.
#[test]
fn moto_has_no_image_status() {
    let repo = unique("moto-status");
    block_on(async {
        let c = ecr_client(REGION).await;
        c.create_repository()
            .repository_name(&repo)
            .send()
            .await
            .unwrap();
        c.put_image()
            .repository_name(&repo)
            .image_manifest(manifest(1, &[1]))
            .image_tag("v1")
            .send()
            .await
            .unwrap();
        let archived = c
            .describe_images()
            .repository_name(&repo)
            .filter(
                DescribeImagesFilter::builder()
                    .image_status(ImageStatusFilter::Archived)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            archived.image_details().len(),
            1,
            "the ACTIVE image is listed as ARCHIVED"
        );
        assert_eq!(archived.image_details()[0].image_status(), None);
    });
}

/// Not faithful: moto checks repository names against an older pattern than ECR's model, so it
/// refuses names with `__` or `--` that ECR accepts (see conformance::names); tests of such
/// names use the ECR stand-in.
#[test]
fn moto_refuses_repository_names_the_model_allows() {
    block_on(async {
        let c = ecr_client(REGION).await;
        for name in ["team__backend", "team--backend"] {
            let created = c
                .create_repository()
                .repository_name(unique(name))
                .send()
                .await;
            assert_eq!(code(created), "InvalidParameterException", "{name}");
        }
        let plain = c
            .create_repository()
            .repository_name(unique("team-backend"))
            .send()
            .await;
        assert!(plain.is_ok(), "{plain:?}");
    });
}

/// `helpers::seed` (the tests' and the demo's images in moto) gives each tag a digest of its own,
/// never the digest of nothing, and the same tag the same digest in every repository.
#[test]
fn seeded_tags_have_digests_of_their_own() {
    let (a, b) = (unique("seed-a"), unique("seed-b"));
    crate::helpers::seed(REGION, &a, &["v1", "v2"]);
    crate::helpers::seed(REGION, &b, &["v1"]);
    let digests = |repo: &str| {
        block_on(async {
            let c = ecr_client(REGION).await;
            let out = c
                .describe_images()
                .repository_name(repo)
                .send()
                .await
                .unwrap();
            out.image_details()
                .iter()
                .map(|d| {
                    (
                        d.image_tags().join(","),
                        d.image_digest().unwrap_or_default().to_string(),
                    )
                })
                .collect::<std::collections::BTreeMap<_, _>>()
        })
    };
    let (in_a, in_b) = (digests(&a), digests(&b));
    assert_eq!(in_a.len(), 2, "{in_a:?}");
    assert_ne!(in_a["v1"], in_a["v2"], "{in_a:?}");
    assert_eq!(in_a["v1"], in_b["v1"], "the same tag, the same image");
    for digest in in_a.values() {
        assert_ne!(*digest, digest_of(""), "the digest of nothing");
    }
}
