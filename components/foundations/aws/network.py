"""VPC over 3 AZs: public subnets for the load balancers, private subnets for nodes and managed services,
a NAT gateway per AZ in prod (one shared in dev), and VPC flow logs to an encrypted log group."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_aws as aws

from components.foundations.aws.policies import document, service_trust

AZ_COUNT = 3


class Network(pulumi.ComponentResource):
    """Exposes `vpc`, `public_subnet_ids`, `private_subnet_ids`, `cidr`."""

    def __init__(
        self,
        name: str,
        *,
        cidr: str,
        nat_per_az: bool,
        flow_log_retention_days: int,
        logs_key_arn: pulumi.Input[str],
        cluster_name: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("maestro:aws:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.cidr = cidr
        zones = aws.get_availability_zones(state="available").names[:AZ_COUNT]
        if len(zones) < AZ_COUNT:
            raise ValueError(f"aws:region: needs {AZ_COUNT} availability zones, found {len(zones)}")
        # /16 -> eight /19: three public, three private, two spare.
        blocks = list(ipaddress.ip_network(cidr).subnets(new_prefix=ipaddress.ip_network(cidr).prefixlen + 3))
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        # The default security group must allow nothing (CIS 5.4).
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            opts=child,
        )
        self.public_subnet_ids: list[pulumi.Output[str]] = []
        self.private_subnet_ids: list[pulumi.Output[str]] = []
        nats: list[aws.ec2.NatGateway] = []
        for i, zone in enumerate(zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=self.vpc.id,
                cidr_block=str(blocks[i]),
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{zone}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta", subnet_id=public.id, route_table_id=public_rt.id, opts=child
            )
            self.public_subnet_ids.append(public.id)
            if nat_per_az or i == 0:
                eip = aws.ec2.Eip(f"{name}-nat-{i}-eip", domain="vpc", opts=child)
                nats.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{i}",
                        allocation_id=eip.id,
                        subnet_id=public.id,
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                    )
                )
        for i, zone in enumerate(zones):
            private = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                cidr_block=str(blocks[AZ_COUNT + i]),
                availability_zone=zone,
                tags={
                    "Name": f"{name}-private-{zone}",
                    "kubernetes.io/role/internal-elb": "1",
                    f"kubernetes.io/cluster/{cluster_name}": "shared",
                },
                opts=child,
            )
            nat = nats[i] if nat_per_az else nats[0]
            rt = aws.ec2.RouteTable(
                f"{name}-private-{i}-rt",
                vpc_id=self.vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}-rta", subnet_id=private.id, route_table_id=rt.id, opts=child
            )
            self.private_subnet_ids.append(private.id)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            retention_in_days=flow_log_retention_days,
            kms_key_id=logs_key_arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role", assume_role_policy=service_trust("vpc-flow-logs.amazonaws.com"), opts=child
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: document(
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        "Resource": [arn, f"{arn}:*"],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            opts=child,
        )
        self.register_outputs({"vpc_id": self.vpc.id})
