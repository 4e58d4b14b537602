"""Seed a moto ECR server with repositories and tagged images (used by the GitHub CI jobs).

usage: seed_moto.py ENDPOINT REGION REPOSITORY[,REPOSITORY...] TAG [TAG...]
"""
import hashlib
import json
import sys

import boto3

endpoint, region, repositories, *tags = sys.argv[1:]
ecr = boto3.client(
    "ecr",
    endpoint_url=endpoint,
    region_name=region,
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
for repository in repositories.split(","):
    try:
        ecr.create_repository(repositoryName=repository)
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    for tag in tags:
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7,
                       "digest": "sha256:" + "0" * 64},
            # moto's digest hashes the layer digests: a layer per tag gives each tag its own.
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1024,
                        "digest": "sha256:" + hashlib.sha256(f"layer {tag}".encode()).hexdigest()}],
            "annotations": {"tag": tag},
        }
        ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
        print(f"pushed {repository}:{tag}")
