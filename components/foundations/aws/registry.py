"""ECR repositories for the images the program builds: immutable tags, scan on push, KMS encryption."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.foundations.contract import RegistryRef


class Registry(pulumi.ComponentResource):
    """Exposes `ref: RegistryRef`."""

    def __init__(
        self, name: str, *, key_arn: pulumi.Input[str], force_delete: bool, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("maestro:aws:Registry", name, None, opts)
        repos = {}
        for image in ("maestro-api", "maestro-mlflow"):
            repos[image] = aws.ecr.Repository(
                f"{name}-{image}",
                name=f"{name}/{image}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": key_arn}],
                force_delete=force_delete,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{image}-lifecycle",
                repository=repos[image].name,
                policy='{"rules":[{"rulePriority":1,"description":"keep the last 50 images",'
                '"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":50},'
                '"action":{"type":"expire"}}]}',
                opts=pulumi.ResourceOptions(parent=self),
            )
        token = aws.ecr.get_authorization_token_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.ref = RegistryRef(
            api_repository=repos["maestro-api"].repository_url,
            mlflow_repository=repos["maestro-mlflow"].repository_url,
            server=token.proxy_endpoint,
            username=token.user_name,
            password=pulumi.Output.secret(token.password),
        )
        self.register_outputs({"api": self.ref.api_repository})
