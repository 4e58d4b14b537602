//! The ECR stand-in against ECR's model (botocore's service-2.json), driven through the real
//! aws-sdk-ecr client: every operation it serves, success and error, and the behaviour the model
//! documents (archived images listed only when asked for, media types honoured, digests of the
//! manifest bytes, tag immutability with exclusions).

use std::collections::BTreeSet;

use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::types::{
    DescribeImagesFilter, ImageIdentifier, ImageStatusFilter, ImageTagMutability, ListImagesFilter,
    TagStatus,
};
use serde_json::{Value, json};

use super::{block_on, ecr_model};
use crate::helpers::ecr::{
    ACCOUNT, DOCKER_MANIFEST, FakeEcr, FakeScan, Image, OCI_INDEX, OCI_MANIFEST, OPERATIONS,
    digest_of, multi_platform, wildcard,
};

fn sdk(url: &str) -> aws_sdk_ecr::Client {
    let config = aws_sdk_ecr::Config::builder()
        .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
        .region(aws_sdk_ecr::config::Region::new("eu-west-1"))
        .endpoint_url(url)
        .credentials_provider(aws_sdk_ecr::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .retry_config(aws_sdk_ecr::config::retry::RetryConfig::disabled())
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .build();
    aws_sdk_ecr::Client::from_conf(config)
}

fn tag(t: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_tag(t).build()
}

/// The error code of a failed call.
fn code<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(r: Result<T, E>) -> String {
    r.expect_err("the call should fail")
        .code()
        .unwrap_or("?")
        .to_string()
}

/// Check every answer the stand-in gave against the model; the (operation, outcome) pairs.
fn check_answers(ecr: &FakeEcr) -> BTreeSet<(String, String)> {
    let model = ecr_model();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for a in ecr.answers() {
        let outcome = if a.status == 200 {
            "200".to_string()
        } else {
            a.body["__type"].as_str().unwrap_or("?").to_string()
        };
        seen.insert((a.operation.clone(), outcome));
        for e in model.check_answer(&a.operation, a.status, &a.body) {
            problems.push(format!("{} {}: {e}", a.operation, a.status));
        }
    }
    assert!(
        problems.is_empty(),
        "{} answers break ECR's model ({}):\n{}",
        problems.len(),
        model.source,
        problems.join("\n")
    );
    seen
}

/// A registry with a bit of everything.
fn registry() -> FakeEcr {
    let ecr = FakeEcr::start();
    ecr.add(
        "shop/backend",
        Image::new(1, &["ea11a24-1", "latest"], 1.7e9),
    );
    let mut archived = Image::new(2, &["ea11a24-0"], 1.6e9);
    archived.status = "ARCHIVED".into();
    ecr.add("shop/backend", archived);
    ecr.add("shop/backend", Image::new(3, &[], 1.5e9));
    let mut scanned = Image::new(4, &["scanned"], 1.7e9);
    scanned.scans = vec![FakeScan::complete(&[("HIGH", 2), ("LOW", 1)])];
    ecr.add("shop/backend", scanned);
    ecr.add_all(
        "shop/multi",
        multi_platform(&["linux/amd64", "linux/arm64/v8"], &["v1"], 1.7e9),
    );
    ecr.repository("shop/locked", "IMMUTABLE", &[]);
    ecr.add("shop/locked", Image::new(5, &["v1"], 1.7e9));
    ecr.repository(
        "shop/envs",
        "IMMUTABLE_WITH_EXCLUSION",
        &["dev", "qa", "stag*"],
    );
    ecr.add("shop/envs", Image::new(6, &["v1", "qa"], 1.7e9));
    ecr.add("shop/envs", Image::new(7, &["v2"], 1.8e9));
    ecr.repository("shop/mostly", "MUTABLE_WITH_EXCLUSION", &["v*"]);
    ecr.add("shop/mostly", Image::new(8, &["v1", "qa"], 1.7e9));
    ecr.add("shop/mostly", Image::new(9, &["x"], 1.8e9));
    ecr
}

#[test]
fn every_answer_of_the_ecr_stand_in_matches_the_model() {
    let ecr = registry();
    let c = sdk(&ecr.url);
    block_on(async {
        // DescribeImages.
        c.describe_images()
            .repository_name("shop/backend")
            .image_ids(tag("ea11a24-1"))
            .send()
            .await
            .unwrap();
        c.describe_images()
            .repository_name("shop/backend")
            .image_ids(tag("ea11a24-0"))
            .send()
            .await
            .unwrap();
        c.describe_images()
            .repository_name("shop/backend")
            .send()
            .await
            .unwrap();
        c.describe_images()
            .repository_name("shop/backend")
            .max_results(1)
            .send()
            .await
            .unwrap();
        c.describe_images()
            .repository_name("shop/backend")
            .filter(
                DescribeImagesFilter::builder()
                    .image_status(ImageStatusFilter::Any)
                    .tag_status(TagStatus::Tagged)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        c.describe_images()
            .repository_name("shop/multi")
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(
                c.describe_images()
                    .repository_name("shop/backend")
                    .image_ids(tag("nope"))
                    .send()
                    .await
            ),
            "ImageNotFoundException"
        );
        assert_eq!(
            code(
                c.describe_images()
                    .repository_name("shop/nope")
                    .send()
                    .await
            ),
            "RepositoryNotFoundException"
        );
        assert_eq!(
            code(
                c.describe_images()
                    .repository_name("shop/backend")
                    .max_results(5000)
                    .send()
                    .await
            ),
            "InvalidParameterException"
        );
        // ListImages.
        c.list_images()
            .repository_name("shop/backend")
            .send()
            .await
            .unwrap();
        c.list_images()
            .repository_name("shop/backend")
            .filter(
                ListImagesFilter::builder()
                    .tag_status(TagStatus::Untagged)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(c.list_images().repository_name("shop/nope").send().await),
            "RepositoryNotFoundException"
        );
        // BatchGetImage.
        c.batch_get_image()
            .repository_name("shop/multi")
            .image_ids(tag("v1"))
            .accepted_media_types(OCI_INDEX)
            .accepted_media_types(OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        c.batch_get_image()
            .repository_name("shop/multi")
            .image_ids(tag("v1"))
            .send()
            .await
            .unwrap();
        c.batch_get_image()
            .repository_name("shop/backend")
            .image_ids(tag("nope"))
            .image_ids(
                ImageIdentifier::builder()
                    .image_tag("latest")
                    .image_digest(format!("sha256:{:064x}", 4))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(
                c.batch_get_image()
                    .repository_name("shop/nope")
                    .image_ids(tag("v1"))
                    .send()
                    .await
            ),
            "RepositoryNotFoundException"
        );
        // PutImage.
        let index = ecr.tagged("shop/multi", "v1").unwrap();
        c.put_image()
            .repository_name("shop/multi")
            .image_manifest(&index.manifest)
            .image_manifest_media_type(OCI_INDEX)
            .image_tag("qa")
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(
                c.put_image()
                    .repository_name("shop/multi")
                    .image_manifest(&index.manifest)
                    .image_tag("qa")
                    .send()
                    .await
            ),
            "ImageAlreadyExistsException"
        );
        let other = crate::helpers::ecr::manifest(50);
        assert_eq!(
            code(
                c.put_image()
                    .repository_name("shop/locked")
                    .image_manifest(&other)
                    .image_tag("v1")
                    .send()
                    .await
            ),
            "ImageTagAlreadyExistsException"
        );
        assert_eq!(
            code(
                c.put_image()
                    .repository_name("shop/multi")
                    .image_manifest(&other)
                    .image_tag("x")
                    .image_digest(format!("sha256:{:064x}", 1))
                    .send()
                    .await
            ),
            "ImageDigestDoesNotMatchException"
        );
        assert_eq!(
            code(
                c.put_image()
                    .repository_name("shop/multi")
                    .image_manifest(r#"{"schemaVersion":2}"#)
                    .image_tag("x")
                    .send()
                    .await
            ),
            "InvalidParameterException"
        );
        assert_eq!(
            code(
                c.put_image()
                    .repository_name("shop/nope")
                    .image_manifest(&other)
                    .image_tag("x")
                    .send()
                    .await
            ),
            "RepositoryNotFoundException"
        );
        ecr.deny("PutImage");
        assert_eq!(
            code(
                c.put_image()
                    .repository_name("shop/multi")
                    .image_manifest(&other)
                    .image_tag("x")
                    .send()
                    .await
            ),
            "AccessDeniedException"
        );
        ecr.allow("PutImage");
        // BatchDeleteImage: a tag (the image keeps its others), a missing one, a digest.
        let out = c
            .batch_delete_image()
            .repository_name("shop/multi")
            .image_ids(tag("qa"))
            .image_ids(tag("nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(out.image_ids().len(), 1);
        assert_eq!(
            out.failures()[0].failure_code().map(|c| c.as_str()),
            Some("ImageNotFound")
        );
        c.batch_delete_image()
            .repository_name("shop/backend")
            .image_ids(
                ImageIdentifier::builder()
                    .image_digest(format!("sha256:{:064x}", 3))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(
                c.batch_delete_image()
                    .repository_name("shop/nope")
                    .image_ids(tag("v1"))
                    .send()
                    .await
            ),
            "RepositoryNotFoundException"
        );
        // DescribeRepositories.
        c.describe_repositories().send().await.unwrap();
        c.describe_repositories()
            .repository_names("shop/envs")
            .repository_names("shop/locked")
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(
                c.describe_repositories()
                    .repository_names("shop/nope")
                    .send()
                    .await
            ),
            "RepositoryNotFoundException"
        );
        // DescribeImageScanFindings.
        c.describe_image_scan_findings()
            .repository_name("shop/backend")
            .image_id(tag("scanned"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(
                c.describe_image_scan_findings()
                    .repository_name("shop/backend")
                    .image_id(tag("latest"))
                    .send()
                    .await
            ),
            "ScanNotFoundException"
        );
        assert_eq!(
            code(
                c.describe_image_scan_findings()
                    .repository_name("shop/backend")
                    .image_id(tag("nope"))
                    .send()
                    .await
            ),
            "ImageNotFoundException"
        );
        // Faults: ECR's server error, and the common ones.
        ecr.fault("ServerException", 500, 1);
        assert_eq!(
            code(
                c.describe_images()
                    .repository_name("shop/backend")
                    .send()
                    .await
            ),
            "ServerException"
        );
        ecr.fault("ThrottlingException", 400, 1);
        assert_eq!(
            code(
                c.batch_get_image()
                    .repository_name("shop/multi")
                    .image_ids(tag("v1"))
                    .send()
                    .await
            ),
            "ThrottlingException"
        );
        ecr.fault_on("PutImage", "LimitExceededException", 400, 1);
        assert_eq!(
            code(
                c.put_image()
                    .repository_name("shop/multi")
                    .image_manifest(&other)
                    .image_tag("y")
                    .send()
                    .await
            ),
            "LimitExceededException"
        );
    });
    let seen = check_answers(&ecr);
    let expected = [
        ("DescribeImages", "200"),
        ("DescribeImages", "ImageNotFoundException"),
        ("DescribeImages", "RepositoryNotFoundException"),
        ("DescribeImages", "InvalidParameterException"),
        ("DescribeImages", "ServerException"),
        ("ListImages", "200"),
        ("ListImages", "RepositoryNotFoundException"),
        ("BatchGetImage", "200"),
        ("BatchGetImage", "RepositoryNotFoundException"),
        ("BatchGetImage", "ThrottlingException"),
        ("PutImage", "200"),
        ("PutImage", "ImageAlreadyExistsException"),
        ("PutImage", "ImageTagAlreadyExistsException"),
        ("PutImage", "ImageDigestDoesNotMatchException"),
        ("PutImage", "InvalidParameterException"),
        ("PutImage", "RepositoryNotFoundException"),
        ("PutImage", "AccessDeniedException"),
        ("PutImage", "LimitExceededException"),
        ("BatchDeleteImage", "200"),
        ("BatchDeleteImage", "RepositoryNotFoundException"),
        ("DescribeRepositories", "200"),
        ("DescribeRepositories", "RepositoryNotFoundException"),
        ("DescribeImageScanFindings", "200"),
        ("DescribeImageScanFindings", "ScanNotFoundException"),
        ("DescribeImageScanFindings", "ImageNotFoundException"),
    ];
    for (op, outcome) in expected {
        assert!(
            seen.contains(&(op.to_string(), outcome.to_string())),
            "{op} {outcome} was not checked; checked: {seen:?}"
        );
    }
}

#[test]
fn the_errors_the_stand_in_can_raise_are_the_models() {
    let model = ecr_model();
    for (op, errors) in OPERATIONS {
        let mut ours: Vec<&str> = errors.to_vec();
        let mut theirs = model.errors(op);
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{op}'s errors");
        for e in *errors {
            let status = if *e == "ServerException" { 500 } else { 400 };
            assert_eq!(model.error_status(e), status, "{e}");
        }
    }
    // The common errors are not ECR's own shapes.
    for (_, e) in crate::helpers::ecr::COMMON_ERRORS {
        assert!(
            model.doc["shapes"].get(*e).is_none(),
            "{e} is in ECR's model"
        );
    }
    // The members the promote-by-tag feature relies on are in the pinned model.
    let mutability = model.shape("ImageTagMutability")["enum"].clone();
    assert_eq!(
        mutability,
        json!([
            "MUTABLE",
            "IMMUTABLE",
            "IMMUTABLE_WITH_EXCLUSION",
            "MUTABLE_WITH_EXCLUSION"
        ])
    );
    assert_eq!(
        model.shape("ImageStatusFilter")["enum"],
        json!(["ACTIVE", "ARCHIVED", "ACTIVATING", "ANY"])
    );
    assert!(
        model.shape("Repository")["members"]
            .get("imageTagMutabilityExclusionFilters")
            .is_some()
    );
    assert!(
        model.shape("BatchGetImageRequest")["members"]
            .get("acceptedMediaTypes")
            .is_some()
    );
    assert!(
        model.shape("Image")["members"]
            .get("imageManifestMediaType")
            .is_some()
    );
}

#[test]
#[should_panic(expected = "ECR never answers InternalServerException")]
fn a_fault_ecr_never_answers_is_refused() {
    FakeEcr::start().fault("InternalServerException", 500, 1);
}

#[test]
#[should_panic(expected = "ECR answers ServerException with 500")]
fn a_fault_with_the_wrong_status_is_refused() {
    FakeEcr::start().fault("ServerException", 503, 1);
}

#[test]
fn archived_images_are_listed_only_when_asked_for() {
    let ecr = registry();
    let c = sdk(&ecr.url);
    block_on(async {
        let listed = |filter: Option<DescribeImagesFilter>| {
            let c = c.clone();
            async move {
                let mut r = c.describe_images().repository_name("shop/backend");
                if let Some(f) = filter {
                    r = r.filter(f);
                }
                let out = r.send().await.unwrap();
                let mut digests: Vec<String> = out
                    .image_details()
                    .iter()
                    .map(|d| d.image_digest().unwrap()[70..].to_string())
                    .collect();
                digests.sort();
                digests
            }
        };
        assert_eq!(listed(None).await, ["1", "3", "4"]);
        let only =
            |s: ImageStatusFilter| Some(DescribeImagesFilter::builder().image_status(s).build());
        assert_eq!(listed(only(ImageStatusFilter::Archived)).await, ["2"]);
        assert_eq!(
            listed(only(ImageStatusFilter::Any)).await,
            ["1", "2", "3", "4"]
        );
        let tagged = DescribeImagesFilter::builder()
            .tag_status(TagStatus::Tagged)
            .build();
        assert_eq!(listed(Some(tagged)).await, ["1", "4"]);
        // Asked for by tag, an archived image is described, with its status.
        let out = c
            .describe_images()
            .repository_name("shop/backend")
            .image_ids(tag("ea11a24-0"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.image_details()[0].image_status().unwrap().as_str(),
            "ARCHIVED"
        );
        // ListImages follows the same filter.
        let ids = c
            .list_images()
            .repository_name("shop/backend")
            .send()
            .await
            .unwrap();
        let tags: BTreeSet<Option<&str>> = ids.image_ids().iter().map(|i| i.image_tag()).collect();
        assert_eq!(
            tags,
            BTreeSet::from([Some("ea11a24-1"), Some("latest"), Some("scanned"), None])
        );
    });
}

#[test]
fn an_index_stays_an_index_only_for_a_client_that_accepts_it() {
    let ecr = registry();
    let c = sdk(&ecr.url);
    let index = ecr.tagged("shop/multi", "v1").unwrap();
    assert_eq!(index.digest, digest_of(&index.manifest));
    block_on(async {
        let out = c
            .batch_get_image()
            .repository_name("shop/multi")
            .image_ids(tag("v1"))
            .accepted_media_types(OCI_INDEX)
            .send()
            .await
            .unwrap();
        let image = &out.images()[0];
        assert_eq!(image.image_manifest_media_type(), Some(OCI_INDEX));
        assert_eq!(image.image_manifest(), Some(index.manifest.as_str()));
        assert_eq!(
            image.image_id().unwrap().image_digest(),
            Some(index.digest.as_str())
        );
        // Without the index's type: a platform manifest it lists, another digest.
        let out = c
            .batch_get_image()
            .repository_name("shop/multi")
            .image_ids(tag("v1"))
            .accepted_media_types(OCI_MANIFEST)
            .accepted_media_types(DOCKER_MANIFEST)
            .send()
            .await
            .unwrap();
        let image = &out.images()[0];
        assert_eq!(image.image_manifest_media_type(), Some(OCI_MANIFEST));
        assert_ne!(
            image.image_id().unwrap().image_digest(),
            Some(index.digest.as_str())
        );
        let m: Value = serde_json::from_str(image.image_manifest().unwrap()).unwrap();
        assert!(m.get("layers").is_some());
        // An index whose platform manifests are not held: a failure, not a wrong manifest.
        let lone = Image::from_manifest(
            &crate::helpers::ecr::index(&["linux/amd64"]),
            None,
            &["lone"],
            1.7e9,
        );
        ecr.add("shop/multi", lone);
        let out = c
            .batch_get_image()
            .repository_name("shop/multi")
            .image_ids(tag("lone"))
            .accepted_media_types(OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert!(out.images().is_empty());
        assert_eq!(
            out.failures()[0].failure_code().unwrap().as_str(),
            "ImageNotFound"
        );
        // By digest and tag that disagree; by neither.
        let out = c
            .batch_get_image()
            .repository_name("shop/multi")
            .image_ids(
                ImageIdentifier::builder()
                    .image_tag("v1")
                    .image_digest(digest_of("x"))
                    .build(),
            )
            .image_ids(ImageIdentifier::builder().build())
            .accepted_media_types(OCI_INDEX)
            .send()
            .await
            .unwrap();
        let codes: Vec<&str> = out
            .failures()
            .iter()
            .map(|f| f.failure_code().unwrap().as_str())
            .collect();
        assert_eq!(codes, ["ImageTagDoesNotMatchDigest", "MissingDigestAndTag"]);
    });
}

#[test]
fn a_retag_keeps_the_manifest_its_media_type_and_its_digest() {
    let ecr = registry();
    let c = sdk(&ecr.url);
    let index = ecr.tagged("shop/multi", "v1").unwrap();
    block_on(async {
        let got = c
            .batch_get_image()
            .repository_name("shop/multi")
            .image_ids(tag("v1"))
            .accepted_media_types(OCI_INDEX)
            .accepted_media_types(OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        let image = &got.images()[0];
        let put = c
            .put_image()
            .repository_name("shop/multi")
            .image_manifest(image.image_manifest().unwrap())
            .image_manifest_media_type(image.image_manifest_media_type().unwrap())
            .image_tag("staging")
            .send()
            .await
            .unwrap();
        let put = put.image().unwrap();
        assert_eq!(
            put.image_id().unwrap().image_digest(),
            Some(index.digest.as_str())
        );
        assert_eq!(put.image_manifest_media_type(), Some(OCI_INDEX));
        let after = ecr.tagged("shop/multi", "staging").unwrap();
        assert_eq!(
            (after.digest.as_str(), after.tags.clone()),
            (
                index.digest.as_str(),
                vec!["v1".to_string(), "staging".to_string()]
            )
        );
        assert!(after.is_index());
        // A seeded image keeps its seeded digest when its manifest is put again.
        let seeded = ecr.tagged("shop/backend", "latest").unwrap();
        let put = c
            .put_image()
            .repository_name("shop/backend")
            .image_manifest(&seeded.manifest)
            .image_tag("qa")
            .send()
            .await
            .unwrap();
        assert_eq!(
            put.image().unwrap().image_id().unwrap().image_digest(),
            Some(seeded.digest.as_str())
        );
        // A new manifest: the digest is the SHA-256 of the exact bytes (whitespace counts).
        let spaced = crate::helpers::ecr::manifest(77).replace(',', ", ");
        let put = c
            .put_image()
            .repository_name("shop/backend")
            .image_manifest(&spaced)
            .image_tag("spaced")
            .send()
            .await
            .unwrap();
        assert_eq!(
            put.image().unwrap().image_id().unwrap().image_digest(),
            Some(digest_of(&spaced).as_str())
        );
        assert_ne!(
            digest_of(&spaced),
            digest_of(&crate::helpers::ecr::manifest(77))
        );
        // Moving a mutable tag takes it from the other image.
        let put = c
            .put_image()
            .repository_name("shop/backend")
            .image_manifest(&spaced)
            .image_tag("latest")
            .send()
            .await
            .unwrap();
        assert!(put.image().is_some());
        assert_eq!(
            ecr.tagged("shop/backend", "latest").unwrap().digest,
            digest_of(&spaced)
        );
        assert_eq!(
            ecr.images("shop/backend")
                .iter()
                .filter(|i| i.tags.contains(&"latest".to_string()))
                .count(),
            1
        );
    });
}

#[test]
fn immutable_tags_with_and_without_exclusions() {
    let ecr = registry();
    let c = sdk(&ecr.url);
    let v2 = ecr.tagged("shop/envs", "v2").unwrap().manifest;
    let x = ecr.tagged("shop/mostly", "x").unwrap().manifest;
    block_on(async {
        let put = |repo: &'static str, manifest: String, t: &'static str| {
            let c = c.clone();
            async move {
                c.put_image()
                    .repository_name(repo)
                    .image_manifest(manifest)
                    .image_tag(t)
                    .send()
                    .await
            }
        };
        // IMMUTABLE_WITH_EXCLUSION [dev, qa, stag*]: environment tags move, others do not.
        assert!(put("shop/envs", v2.clone(), "qa").await.is_ok());
        assert!(put("shop/envs", v2.clone(), "staging").await.is_ok());
        assert_eq!(
            code(put("shop/envs", v2.clone(), "v1").await),
            "ImageTagAlreadyExistsException"
        );
        // A new tag is always fine; the same tag on the same image is ImageAlreadyExists.
        assert!(put("shop/envs", v2.clone(), "v2-copy").await.is_ok());
        assert_eq!(
            code(put("shop/envs", v2.clone(), "qa").await),
            "ImageAlreadyExistsException"
        );
        // MUTABLE_WITH_EXCLUSION [v*]: v-tags are fixed, others move.
        assert_eq!(
            code(put("shop/mostly", x.clone(), "v1").await),
            "ImageTagAlreadyExistsException"
        );
        assert!(put("shop/mostly", x.clone(), "qa").await.is_ok());
        // The settings read back through the SDK.
        let out = c
            .describe_repositories()
            .repository_names("shop/envs")
            .send()
            .await
            .unwrap();
        let r = &out.repositories()[0];
        assert_eq!(
            r.image_tag_mutability(),
            Some(&ImageTagMutability::ImmutableWithExclusion)
        );
        let filters: Vec<&str> = r
            .image_tag_mutability_exclusion_filters()
            .iter()
            .map(|f| f.filter())
            .collect();
        assert_eq!(filters, ["dev", "qa", "stag*"]);
        assert_eq!(
            r.repository_uri(),
            Some(format!("{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/shop/envs").as_str())
        );
        let all = c.describe_repositories().send().await.unwrap();
        assert_eq!(all.repositories().len(), 5);
    });
    assert!(
        wildcard("stag*", "staging") && wildcard("*-env", "qa-env") && wildcard("a*b*c", "aXbYc")
    );
    assert!(!wildcard("stag*", "stg") && !wildcard("qa", "qa2") && !wildcard("a*b*c", "aXc"));
}

/// ECR's documented BatchDeleteImage: a tag alone takes only that tag off while the image has
/// others, and deletes the image with its last tag.
#[test]
fn deleting_a_tag_keeps_an_image_that_has_another() {
    let ecr = registry();
    let c = sdk(&ecr.url);
    block_on(async {
        c.batch_delete_image()
            .repository_name("shop/backend")
            .image_ids(tag("latest"))
            .send()
            .await
            .unwrap();
        let kept = ecr.tagged("shop/backend", "ea11a24-1").unwrap();
        assert_eq!(kept.tags, ["ea11a24-1"]);
        c.batch_delete_image()
            .repository_name("shop/backend")
            .image_ids(tag("ea11a24-1"))
            .send()
            .await
            .unwrap();
        assert!(
            !ecr.images("shop/backend")
                .iter()
                .any(|i| i.digest == kept.digest),
            "the last tag took the image with it"
        );
    });
    check_answers(&ecr);
}

#[test]
fn a_drifting_answer_fails_the_check() {
    let model = ecr_model();
    let ecr = registry();
    block_on(async {
        sdk(&ecr.url)
            .describe_images()
            .repository_name("shop/backend")
            .image_ids(tag("latest"))
            .send()
            .await
            .unwrap();
    });
    let answer = ecr.answers()[0].body.clone();
    assert!(
        model
            .check_answer("DescribeImages", 200, &answer)
            .is_empty()
    );
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut body = answer.clone();
        change(&mut body["imageDetails"][0]);
        model.check_answer("DescribeImages", 200, &body).join("\n")
    };
    assert!(broken(&|d| d["imageStatus"] = json!("GONE")).contains("is not one of"));
    assert!(
        broken(&|d| d["imageManifestMediatype"] = json!(OCI_MANIFEST))
            .contains("has no member imageManifestMediatype")
    );
    assert!(broken(&|d| d["registryId"] = json!("12345")).contains("does not match"));
    assert!(broken(&|d| d["repositoryName"] = json!("Shop/Backend")).contains("does not match"));
    assert!(
        broken(&|d| d["imageTags"] = json!(["x".repeat(301)])).contains("above the maximum 300")
    );
    assert!(
        broken(&|d| d["imagePushedAt"] = json!("2026-01-29T12:56:07Z"))
            .contains("expected timestamp")
    );
    assert!(broken(&|d| d["imageSizeInBytes"] = json!(1.5)).contains("expected long"));
    assert!(broken(&|d| d["imageTags"] = Value::Null).contains("null"));
    // Errors: the name ECR uses, the status the model gives, nothing ECR does not raise there.
    let err = |kind: &str, status: u16| {
        model
            .check_answer(
                "DescribeImages",
                status,
                &json!({"__type": kind, "message": "m"}),
            )
            .join("\n")
    };
    assert!(err("ServerException", 500).is_empty());
    assert!(err("InternalServerException", 500).contains("cannot answer InternalServerException"));
    assert!(err("ServerException", 400).contains("the model says 500"));
    assert!(err("ImageTagAlreadyExistsException", 400).contains("cannot answer"));
    assert!(err("ThrottlingException", 400).is_empty());
    assert!(
        model
            .check_answer("PutImage", 400, &json!({"message": "m"}))
            .join("")
            .contains("without an __type")
    );
    // A required member: ImageTagMutabilityExclusionFilter needs filterType and filter.
    let repo = json!({"repositories": [{"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [{"filter": "qa"}]}]});
    assert!(
        model
            .check_answer("DescribeRepositories", 200, &repo)
            .join("")
            .contains("required member filterType")
    );
}
