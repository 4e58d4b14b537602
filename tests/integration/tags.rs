//! Promote by environment tag: the next environment's tag put on the verified digest in every
//! repository, the manifest and its media type unchanged (an index stays an index), refused
//! before any tag moves when a repository's tags are immutable, moved back when a repository
//! fails midway; with a dispatch too, and in a rollback. Against the ECR stand-in, which
//! honours `acceptedMediaTypes` and immutability as ECR does, and moto where it is faithful.

use serde_json::json;

use crate::at;
use crate::helpers::ecr::{
    DOCKER_MANIFEST, FakeEcr, Image, OCI_INDEX, OCI_MANIFEST, digest_of, manifest, multi_platform,
};
use crate::helpers::records::Rec;
use crate::helpers::{REGION, Step, ecr_client, github_with_deploy, unique};

const TAG: &str = "ea11a24-20260129125607";
const OLD: &str = "9f8e7d6-20260120101010";

/// A step against the stand-in, promoting by tag, with no GitHub (nothing recorded).
fn step(ecr: &FakeEcr, env: &str, repos: &str) -> Step {
    at(env, TAG, repos)
        .input("promote-by", "tag")
        .input("record", "false")
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .env("AWS_MAX_ATTEMPTS", "1")
}

/// A Docker v2 manifest (its type given at push, as `docker push` does), distinct per seed.
fn docker_manifest(seed: u64) -> String {
    manifest(seed).replace(OCI_MANIFEST, DOCKER_MANIFEST)
}

/// The verified image and an older one holding `qa` in `repo`.
fn with_old_qa(ecr: &FakeEcr, repo: &str, seed: u64) -> (Image, Image) {
    let image = Image::from_manifest(&manifest(seed), None, &[TAG], 1.8e9);
    let old = Image::from_manifest(&manifest(seed + 1), None, &[OLD, "qa"], 1.7e9);
    ecr.add(repo, image.clone());
    ecr.add(repo, old.clone());
    (image, old)
}

fn qa_of(ecr: &FakeEcr, repo: &str) -> Option<String> {
    ecr.tagged(repo, "qa").map(|i| i.digest)
}

#[test]
fn a_single_platform_image_gets_the_tag_in_every_repository_unchanged() {
    let ecr = FakeEcr::start();
    let oci = Image::from_manifest(&manifest(1), None, &[TAG], 1.8e9);
    let docker = Image::from_manifest(&docker_manifest(2), Some(DOCKER_MANIFEST), &[TAG], 1.8e9);
    ecr.add("shop/backend", oci.clone());
    ecr.add("shop/frontend", docker.clone());
    ecr.add(
        "shop/frontend",
        Image::from_manifest(&docker_manifest(3), Some(DOCKER_MANIFEST), &["qa"], 1.7e9),
    );
    // A full URI: another (made-up) account, another region.
    let uri = "210987654321.dkr.ecr.us-east-1.amazonaws.com/shop/frontend";
    // No workflow to dispatch is needed: the runner's workflow and ref are not even known.
    let ran = step(&ecr, "dev", &format!("shop/backend, {uri}"))
        .unset("GITHUB_WORKFLOW_REF")
        .unset("GITHUB_REF")
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(ran.out("promoted"), "true");
    assert_eq!(ran.out("deploy_success"), "true");
    assert_eq!(ran.code, 0);
    for (repo, image) in [("shop/backend", &oci), ("shop/frontend", &docker)] {
        let tagged = ecr.tagged(repo, "qa").expect("qa is set");
        assert_eq!(
            tagged.digest, image.digest,
            "{repo}: the digest is unchanged"
        );
        assert_eq!(tagged.manifest, image.manifest, "{repo}: the same bytes");
        assert_eq!(
            tagged.manifest_media_type(),
            image.manifest_media_type(),
            "{repo}: the media type is unchanged"
        );
        assert_eq!(tagged.tags, [TAG, "qa"], "{repo}: the image keeps its tag");
    }
    assert_eq!(ecr.images("shop/backend").len(), 1, "no new image");
    assert_eq!(
        ecr.images("shop/frontend").len(),
        2,
        "the old image stays, without the tag"
    );
    assert_eq!(ecr.calls("PutImage"), 2);
    assert_eq!(ecr.calls("DescribeRepositories"), 2);
    assert!(
        ran.summary.contains("**`qa`** (promoted)"),
        "{}",
        ran.summary
    );
    let message = ran.out("message");
    assert!(
        message.contains("`qa` names `ea11a24-20260129125607`"),
        "{message}"
    );
    // The cross-account repository was asked in its account and region.
    let answers = ecr.answers();
    let put = answers
        .iter()
        .filter(|a| a.operation == "PutImage")
        .find(|a| a.body["image"]["repositoryName"] == "shop/frontend")
        .unwrap();
    assert_eq!(put.body["image"]["registryId"], "210987654321");
    let described = answers
        .iter()
        .find(|a| {
            a.operation == "DescribeRepositories"
                && a.body["repositories"][0]["repositoryName"] == "shop/frontend"
        })
        .unwrap();
    assert_eq!(
        described.body["repositories"][0]["repositoryArn"],
        "arn:aws:ecr:us-east-1:210987654321:repository/shop/frontend"
    );
}

#[test]
fn an_image_index_stays_an_index_with_its_digest() {
    let ecr = FakeEcr::start();
    for repo in ["shop/backend", "shop/frontend"] {
        ecr.add_all(
            repo,
            multi_platform(&["linux/amd64", "linux/arm64"], &[TAG], 1.8e9),
        );
    }
    let index = ecr.tagged("shop/backend", TAG).unwrap();
    assert!(index.is_index());
    let ran = step(&ecr, "qa", "shop/backend,shop/frontend").run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    for repo in ["shop/backend", "shop/frontend"] {
        let tagged = ecr.tagged(repo, "staging").expect("staging is set");
        assert!(tagged.is_index(), "{repo}: still an index");
        assert_eq!(tagged.manifest_media_type(), OCI_INDEX);
        assert_eq!(
            tagged.digest, index.digest,
            "{repo}: the index's own digest"
        );
        assert_eq!(
            ecr.images(repo).len(),
            3,
            "{repo}: no platform manifest was tagged or added"
        );
        assert!(
            ecr.images(repo)
                .iter()
                .filter(|i| !i.is_index())
                .all(|i| i.tags.is_empty()),
            "{repo}: the platform manifests stay untagged"
        );
    }
    assert_eq!(ran.out("image_digest"), index.digest);
}

/// moto keeps a media type given to PutImage and an index an index (see
/// conformance::moto): the same retag against it, a manifest and an index.
#[test]
fn moto_retags_a_manifest_and_an_index_unchanged() {
    let single = unique("shop/single");
    let multi = unique("shop/multi");
    let child = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 7, "digest": digest_of("config")},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 100, "digest": digest_of(&single)}]})
    .to_string();
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "size": child.len(), "digest": digest_of(&child), "platform": {"os": "linux", "architecture": "amd64"}}]})
    .to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let c = rt.block_on(ecr_client(REGION));
    let describe = |repo: &str, tag: &str| {
        rt.block_on(
            c.describe_images()
                .repository_name(repo)
                .image_ids(
                    aws_sdk_ecr::types::ImageIdentifier::builder()
                        .image_tag(tag)
                        .build(),
                )
                .send(),
        )
        .map(|out| {
            let d = &out.image_details()[0];
            (
                d.image_digest().unwrap().to_string(),
                d.image_manifest_media_type()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .expect("the tag is there")
    };
    rt.block_on(async {
        for repo in [&single, &multi] {
            c.create_repository()
                .repository_name(repo)
                .send()
                .await
                .unwrap();
        }
        c.put_image()
            .repository_name(&single)
            .image_manifest(&child)
            .image_manifest_media_type(OCI_MANIFEST)
            .image_tag(TAG)
            .send()
            .await
            .unwrap();
        c.put_image()
            .repository_name(&multi)
            .image_manifest(&child)
            .send()
            .await
            .unwrap();
        c.put_image()
            .repository_name(&multi)
            .image_manifest(&index)
            .image_manifest_media_type(OCI_INDEX)
            .image_tag(TAG)
            .send()
            .await
            .unwrap();
    });
    let before: Vec<_> = [&single, &multi].iter().map(|r| describe(r, TAG)).collect();
    let ran = at("dev", TAG, &format!("{single},{multi}"))
        .input("promote-by", "tag")
        .input("record", "false")
        .run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    for (repo, was) in [&single, &multi].iter().zip(&before) {
        assert_eq!(&describe(repo, "qa"), was, "{repo}");
    }
    assert_eq!(before[1].1, OCI_INDEX);
    // Idempotent against moto too: its ImageAlreadyExistsException is a success.
    let again = at("dev", TAG, &format!("{single},{multi}"))
        .input("promote-by", "tag")
        .input("record", "false")
        .run();
    assert_eq!(again.out("result"), "promoted", "{}", again.context());
}

#[test]
fn a_rerun_is_a_success_that_puts_nothing() {
    let ecr = FakeEcr::start();
    with_old_qa(&ecr, "shop/backend", 10);
    let first = step(&ecr, "dev", "shop/backend").run();
    assert_eq!(first.out("result"), "promoted", "{}", first.context());
    assert_eq!(ecr.calls("PutImage"), 1);
    let again = step(&ecr, "dev", "shop/backend").run();
    assert_eq!(again.out("result"), "promoted", "{}", again.context());
    assert_eq!(again.out("promoted"), "true");
    assert_eq!(ecr.calls("PutImage"), 1, "the tag already named the image");
    assert!(
        again.out("message").contains("already did"),
        "{}",
        again.out("message")
    );
}

#[test]
fn a_tag_a_concurrent_run_just_put_there_is_a_success() {
    let ecr = FakeEcr::start();
    let (image, old) = with_old_qa(&ecr, "shop/backend", 20);
    // ECR answers ImageAlreadyExistsException when the tag already names these bytes.
    ecr.fault_on("PutImage", "ImageAlreadyExistsException", 400, 1);
    let ran = step(&ecr, "dev", "shop/backend").run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(ran.code, 0);
    assert_eq!(ecr.calls("PutImage"), 1, "nothing to move back");
    assert_ne!(image.digest, old.digest);
}

#[test]
fn an_immutable_tag_on_another_image_refuses_before_any_put() {
    let ecr = FakeEcr::start();
    let (_, old_backend) = with_old_qa(&ecr, "shop/backend", 30);
    ecr.repository("shop/frontend", "IMMUTABLE", &[]);
    let (_, old_frontend) = with_old_qa(&ecr, "shop/frontend", 40);
    let ran = step(&ecr, "dev", "shop/backend,shop/frontend").run();
    assert_eq!(ran.out("result"), "tag-rejected", "{}", ran.context());
    assert_eq!(ran.code, 1);
    assert_eq!(
        ran.out("deploy_success"),
        "true",
        "the image itself was fine"
    );
    assert_eq!(ran.out("promoted"), "false");
    assert_eq!(ecr.calls("PutImage"), 0, "no PutImage anywhere");
    assert_eq!(ecr.calls("BatchGetImage"), 0);
    assert_eq!(qa_of(&ecr, "shop/backend"), Some(old_backend.digest));
    assert_eq!(qa_of(&ecr, "shop/frontend"), Some(old_frontend.digest));
    let message = ran.out("message");
    assert!(message.contains("shop/frontend"), "{message}");
    assert!(message.contains("IMMUTABLE"), "{message}");
    assert!(
        message.contains("no tag was moved in any repository"),
        "{message}"
    );
    assert!(
        message.contains(
            "aws ecr put-image-tag-mutability --repository-name shop/frontend --image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=dev filterType=WILDCARD,filter=qa filterType=WILDCARD,filter=staging --region eu-west-1"
        ),
        "{message}"
    );
    // The same repository with an exclusion that misses the tag refuses the same way.
    ecr.repository("shop/frontend", "IMMUTABLE_WITH_EXCLUSION", &["dev"]);
    let ran = step(&ecr, "dev", "shop/backend,shop/frontend").run();
    assert_eq!(ran.out("result"), "tag-rejected", "{}", ran.context());
    assert_eq!(ecr.calls("PutImage"), 0);
    // A new tag in an immutable repository is fine: nothing to overwrite.
    ecr.repository("shop/new", "IMMUTABLE", &[]);
    ecr.add(
        "shop/new",
        Image::from_manifest(&manifest(50), None, &[TAG], 1.8e9),
    );
    let ran = step(&ecr, "dev", "shop/new").run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
}

#[test]
fn immutable_with_an_exclusion_for_environment_tags_moves_the_tag() {
    let ecr = FakeEcr::start();
    ecr.repository(
        "shop/backend",
        "IMMUTABLE_WITH_EXCLUSION",
        &["dev", "stag*"],
    );
    let image = Image::from_manifest(&manifest(60), None, &[TAG], 1.8e9);
    ecr.add("shop/backend", image.clone());
    ecr.add(
        "shop/backend",
        Image::from_manifest(&manifest(61), None, &[OLD, "staging"], 1.7e9),
    );
    let ran = step(&ecr, "qa", "shop/backend").run();
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(
        ecr.tagged("shop/backend", "staging").unwrap().digest,
        image.digest
    );
    // Every other tag stays immutable: the old image keeps its own.
    assert!(ecr.tagged("shop/backend", OLD).is_some());
}

#[test]
fn put_image_denied_is_tag_rejected_with_the_iam_fix() {
    let ecr = FakeEcr::start();
    let (_, old) = with_old_qa(&ecr, "shop/backend", 70);
    ecr.deny("PutImage");
    let ran = step(&ecr, "dev", "shop/backend").run();
    assert_eq!(ran.out("result"), "tag-rejected", "{}", ran.context());
    assert_eq!(ran.code, 1);
    assert_eq!(ran.out("promoted"), "false");
    let message = ran.out("message");
    assert!(message.contains("ecr:PutImage"), "{message}");
    assert!(
        message.contains("grant the role ecr:DescribeRepositories, ecr:BatchGetImage and ecr:PutImage on shop/backend"),
        "{message}"
    );
    assert_eq!(qa_of(&ecr, "shop/backend"), Some(old.digest));
    // DescribeRepositories denied: refused in the first round, before any manifest is read.
    ecr.allow("PutImage");
    ecr.deny("DescribeRepositories");
    let ran = step(&ecr, "dev", "shop/backend").run();
    assert_eq!(ran.out("result"), "tag-rejected", "{}", ran.context());
    assert!(ran.out("message").contains("ecr:DescribeRepositories"));
    assert_eq!(
        ecr.calls("BatchGetImage"),
        1,
        "only the first run read a manifest"
    );
}

#[test]
fn a_failure_midway_moves_the_tags_back() {
    // The tag named an older image in both: the one that moved goes back to it.
    let ecr = FakeEcr::start();
    let (_, old_backend) = with_old_qa(&ecr, "shop/backend", 80);
    let (_, old_frontend) = with_old_qa(&ecr, "shop/frontend", 90);
    ecr.fault_on("PutImage", "ServerException", 500, 1);
    let ran = step(&ecr, "dev", "shop/backend,shop/frontend").run();
    assert_eq!(ran.out("result"), "error", "{}", ran.context());
    assert_eq!(ran.code, 1);
    assert_eq!(ran.out("promoted"), "false");
    assert_eq!(ecr.calls("PutImage"), 3, "two puts, one put back");
    assert_eq!(qa_of(&ecr, "shop/backend"), Some(old_backend.digest));
    assert_eq!(qa_of(&ecr, "shop/frontend"), Some(old_frontend.digest));
    let message = ran.out("message");
    assert!(message.contains("ServerException"), "{message}");
    assert!(message.contains("it was moved back in shop/"), "{message}");
    assert!(
        message.contains("no repository is half promoted"),
        "{message}"
    );

    // The tag named nothing: the one that moved comes off again, and the image stays.
    let ecr = FakeEcr::start();
    let backend = Image::from_manifest(&manifest(100), None, &[TAG], 1.8e9);
    let frontend = Image::from_manifest(&manifest(101), None, &[TAG], 1.8e9);
    ecr.add("shop/backend", backend.clone());
    ecr.add("shop/frontend", frontend.clone());
    ecr.fault_on("PutImage", "ServerException", 500, 1);
    let ran = step(&ecr, "dev", "shop/backend,shop/frontend").run();
    assert_eq!(ran.out("result"), "error", "{}", ran.context());
    assert_eq!(ecr.calls("BatchDeleteImage"), 1);
    for (repo, image) in [("shop/backend", &backend), ("shop/frontend", &frontend)] {
        assert_eq!(qa_of(&ecr, repo), None, "{repo}: no qa tag left");
        assert_eq!(
            ecr.tagged(repo, TAG).map(|i| i.digest),
            Some(image.digest.clone()),
            "{repo}: the image and its tag are still there"
        );
    }
    assert!(ran.out("message").contains("moved back"));
}

#[test]
fn a_dry_run_checks_everything_and_moves_nothing() {
    let ecr = FakeEcr::start();
    let (_, old) = with_old_qa(&ecr, "shop/backend", 110);
    let ran = step(&ecr, "dev", "shop/backend")
        .input("dry-run", "true")
        .run();
    assert_eq!(ran.out("result"), "dry-run", "{}", ran.context());
    assert_eq!(ran.out("promoted"), "false");
    assert!(ran.out("message").contains("`qa` would name"));
    assert_eq!(ecr.calls("PutImage"), 0);
    assert_eq!(ecr.calls("DescribeRepositories"), 1);
    assert_eq!(qa_of(&ecr, "shop/backend"), Some(old.digest));
    // An immutable refusal shows in a dry run too.
    ecr.repository("shop/backend", "IMMUTABLE", &[]);
    let ran = step(&ecr, "dev", "shop/backend")
        .input("dry-run", "true")
        .run();
    assert_eq!(ran.out("result"), "tag-rejected", "{}", ran.context());
}

#[test]
fn dispatch_and_tag_do_both_and_a_refused_dispatch_moves_no_tag() {
    let ecr = FakeEcr::start();
    let (image, old) = with_old_qa(&ecr, "shop/backend", 120);
    let gh = github_with_deploy("");
    let both = |gh: &crate::helpers::FakeGitHub| {
        step(&ecr, "dev", "shop/backend")
            .input("promote-by", "dispatch,tag")
            .github(gh)
            .run()
    };
    // A disabled workflow: refused by the pre-flight before any tag moves.
    gh.set_state("deploy.yml", "disabled_manually");
    let ran = both(&gh);
    assert_eq!(ran.out("result"), "dispatch-rejected", "{}", ran.context());
    assert!(ran.out("message").contains("no tag was moved"));
    assert_eq!(ecr.calls("PutImage"), 0);
    assert_eq!(qa_of(&ecr, "shop/backend"), Some(old.digest));
    assert!(gh.runs().is_empty());

    gh.set_state("deploy.yml", "active");
    let ran = both(&gh);
    assert_eq!(ran.out("result"), "promoted", "{}", ran.context());
    assert_eq!(ran.out("promoted"), "true");
    assert_eq!(qa_of(&ecr, "shop/backend"), Some(image.digest));
    let runs = gh.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].inputs["environment"], "qa");
    assert_eq!(runs[0].inputs["image_tag"], TAG);
    let message = ran.out("message");
    assert!(message.contains("`qa` names"), "{message}");
}

#[test]
fn a_rollback_moves_the_environments_tag_back() {
    let ecr = FakeEcr::start();
    let v1 = Image::from_manifest(&manifest(130), None, &["v1"], 1.7e9);
    let v2 = Image::from_manifest(&manifest(131), None, &["v2", "qa"], 1.8e9);
    ecr.add("shop/backend", v1.clone());
    ecr.add("shop/backend", v2.clone());
    let gh = github_with_deploy("");
    let t0 = 1_767_000_000;
    Rec::new("qa", t0, "v1", &[("shop/backend", &v1.digest)]).add(&gh);
    Rec::new("qa", t0 + 3600, "v2", &[("shop/backend", &v2.digest)]).add(&gh);
    let ran = crate::step()
        .input("mode", "rollback")
        .input("environment", "qa")
        .input("ecr-repositories", "shop/backend")
        .input("promote-by", "tag")
        .github(&gh)
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .env("AWS_MAX_ATTEMPTS", "1")
        .run();
    assert_eq!(ran.out("result"), "rolled-back", "{}", ran.context());
    assert_eq!(ran.code, 0);
    assert_eq!(ran.out("rolled_back_to"), "v1");
    assert_eq!(qa_of(&ecr, "shop/backend"), Some(v1.digest.clone()));
    assert_eq!(ecr.tagged("shop/backend", "v2").unwrap().tags, ["v2"]);
    assert!(
        gh.runs().is_empty(),
        "promote-by tag alone dispatches nothing"
    );
    assert_eq!(gh.count("POST", "/dispatches"), 0);
    assert!(
        ran.out("message").contains("`qa` names `v1`"),
        "{}",
        ran.out("message")
    );
}

#[test]
fn a_failed_deploy_is_rolled_back_by_moving_its_tag_back() {
    let ecr = FakeEcr::start();
    let v1 = Image::from_manifest(&manifest(140), None, &["v1"], 1.7e9);
    // The cluster followed `qa` to v2, and its deploy failed.
    let v2 = Image::from_manifest(&manifest(141), None, &["v2", "qa"], 1.8e9);
    ecr.add("shop/backend", v1.clone());
    ecr.add("shop/backend", v2.clone());
    let gh = github_with_deploy("");
    Rec::new("qa", 1_767_000_000, "v1", &[("shop/backend", &v1.digest)]).add(&gh);
    let ran = at("qa", "v2", "shop/backend")
        .input("promote-by", "tag")
        .input("deploy-status", "failure")
        .input("rollback-on-failure", "true")
        .github(&gh)
        .env("AWS_ENDPOINT_URL_ECR", &ecr.url)
        .env("AWS_MAX_ATTEMPTS", "1")
        .run();
    assert_eq!(ran.out("result"), "rolled-back", "{}", ran.context());
    assert_eq!(ran.code, 1, "the deploy failed");
    assert_eq!(ran.out("rolled_back_to"), "v1");
    assert_eq!(qa_of(&ecr, "shop/backend"), Some(v1.digest.clone()));
    assert!(
        gh.runs().is_empty(),
        "promote-by tag alone dispatches nothing"
    );
    let records: Vec<_> = gh
        .deployments()
        .into_iter()
        .filter(|d| d.environment == "qa")
        .collect();
    assert_eq!(
        records.len(),
        3,
        "the old one, this run's failure, the rollback"
    );
    assert_eq!(records[2].payload["image_tag"], "v1");
    assert_eq!(records[2].payload["hold"], true);
    assert!(
        ran.out("message").contains("`qa` names `v1`"),
        "{}",
        ran.out("message")
    );
}
