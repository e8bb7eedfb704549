"""A CloudFormation template for a deployment on AWS: ECS Fargate behind an ALB.

The seed's "host your own microservice on AWS": an ECR repository for the images, one
ECS Fargate service per model version (task definition, ``awslogs`` log group, container
health check on ``/v2/health/ready``), an internet-facing Application Load Balancer
whose listener forwards to one target group per version **by weight** (blue/green or
canary by changing the ``Weight`` parameters), target group health checks on the V2
ready route, and parameters for the image tags, task sizes and counts. A deployment that
requires a serve token gets it from a Secrets Manager secret named by a parameter (the
template never holds it).
"""

from __future__ import annotations

import re
from typing import Any

from dockyard.packaging.plans import READY_PATH, SERVE_PORT, DeploymentPlan, VersionPlan

__all__ = ["render_cloudformation"]

_CPU = ["256", "512", "1024", "2048", "4096"]
_MEMORY = ["512", "1024", "2048", "3072", "4096", "8192", "16384"]


def _logical(prefix: str, version: VersionPlan) -> str:
    return f"{prefix}V{version.version}"


def _cpu_units(cpu: str) -> str:
    """Kubernetes CPU (``250m``, ``1``) as Fargate units, rounded up to a valid size."""
    millis = int(cpu[:-1]) if cpu.endswith("m") else int(float(cpu) * 1000)
    units = millis * 1024 // 1000
    return next((c for c in _CPU if int(c) >= units), _CPU[-1])


def _memory_mib(memory: str) -> str:
    match = re.fullmatch(r"(\d+)(Mi|Gi)", memory)
    mib = (int(match.group(1)) * (1024 if match.group(2) == "Gi" else 1)) if match else 1024
    return next((m for m in _MEMORY if int(m) >= mib), _MEMORY[-1])


def _health_command() -> list[str]:
    probe = (
        "import sys, urllib.request; "
        f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{SERVE_PORT}{READY_PATH}', "
        "timeout=3).status == 200 else 1)"
    )
    return ["CMD", "python", "-c", probe]


def _token_policy(plan: DeploymentPlan) -> dict[str, Any]:
    """The execution role may read the token's secret (only that one)."""
    if not plan.needs_token:
        return {}
    return {
        "Policies": [
            {
                "PolicyName": "read-serve-token",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "secretsmanager:GetSecretValue",
                            "Resource": {"Ref": "ServeTokenSecretArn"},
                        }
                    ],
                },
            }
        ]
    }


def _token_secret(plan: DeploymentPlan) -> dict[str, Any]:
    """``dockyard serve`` reads ``DOCKYARD_SERVE_TOKEN``; ECS puts the secret there."""
    if not plan.needs_token:
        return {}
    return {
        "Secrets": [{"Name": "DOCKYARD_SERVE_TOKEN", "ValueFrom": {"Ref": "ServeTokenSecretArn"}}]
    }


def render_cloudformation(plan: DeploymentPlan) -> dict[str, Any]:
    """The template as a mapping (dump it as YAML or JSON)."""
    parameters: dict[str, Any] = {
        "VpcId": {"Type": "AWS::EC2::VPC::Id", "Description": "The VPC to run in."},
        "SubnetIds": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "At least two public subnets in different zones (the ALB needs two).",
        },
        "TaskCpu": {
            "Type": "String",
            "Default": _cpu_units(plan.resources.cpu_limit),
            "AllowedValues": _CPU,
            "Description": "Fargate CPU units per task.",
        },
        "TaskMemory": {
            "Type": "String",
            "Default": _memory_mib(plan.resources.memory_limit),
            "AllowedValues": _MEMORY,
            "Description": "Fargate memory (MiB) per task; must suit TaskCpu.",
        },
        "DesiredCount": {
            "Type": "Number",
            "Default": plan.replicas,
            "MinValue": 0,
            "Description": "Tasks per model version.",
        },
    }
    if plan.needs_token:
        parameters["ServeTokenSecretArn"] = {
            "Type": "String",
            "AllowedPattern": "arn:aws[a-z-]*:secretsmanager:.+",
            "Description": "Secrets Manager secret holding the serve token (the deployment "
            "requires 'Authorization: Bearer <token>').",
        }
    resources: dict[str, Any] = {
        "Repository": {
            "Type": "AWS::ECR::Repository",
            "Properties": {
                "RepositoryName": plan.image.rsplit("/", 1)[-1],
                "ImageScanningConfiguration": {"ScanOnPush": True},
                "ImageTagMutability": "IMMUTABLE",
            },
        },
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": plan.name}},
        "LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": f"/dockyard/{plan.name}", "RetentionInDays": 30},
        },
        "ExecutionRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
                ],
                **_token_policy(plan),
            },
        },
        "LoadBalancerSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": f"HTTP to the {plan.name} load balancer",
                "VpcId": {"Ref": "VpcId"},
                "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"}
                ],
            },
        },
        "ServiceSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": f"The load balancer to the {plan.name} tasks",
                "VpcId": {"Ref": "VpcId"},
                "SecurityGroupIngress": [
                    {
                        "IpProtocol": "tcp",
                        "FromPort": SERVE_PORT,
                        "ToPort": SERVE_PORT,
                        "SourceSecurityGroupId": {
                            "Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]
                        },
                    }
                ],
            },
        },
        "LoadBalancer": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "Type": "application",
                "Scheme": "internet-facing",
                "Subnets": {"Ref": "SubnetIds"},
                "SecurityGroups": [{"Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]}],
            },
        },
    }
    forward: list[dict[str, Any]] = []
    for version in plan.versions:
        tag_param, weight_param = _logical("ImageTag", version), _logical("Weight", version)
        parameters[tag_param] = {
            "Type": "String",
            "Default": version.tag,
            "Description": f"Image tag of {plan.model}:{version.version} in the repository.",
        }
        parameters[weight_param] = {
            "Type": "Number",
            "Default": round(version.weight),
            "MinValue": 0,
            "MaxValue": 999,
            "Description": f"Share of traffic to {plan.model}:{version.version} ({version.role}).",
        }
        group, task, svc = (
            _logical("TargetGroup", version),
            _logical("TaskDefinition", version),
            _logical("Service", version),
        )
        resources[group] = {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "TargetType": "ip",
                "Protocol": "HTTP",
                "Port": SERVE_PORT,
                "VpcId": {"Ref": "VpcId"},
                "HealthCheckProtocol": "HTTP",
                "HealthCheckPath": READY_PATH,
                "HealthCheckIntervalSeconds": 15,
                "HealthyThresholdCount": 2,
                "UnhealthyThresholdCount": 3,
                "Matcher": {"HttpCode": "200"},
                "TargetGroupAttributes": [
                    {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}
                ],
            },
        }
        resources[task] = {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": f"{plan.name}-{version.tag}",
                "RequiresCompatibilities": ["FARGATE"],
                "NetworkMode": "awsvpc",
                "Cpu": {"Ref": "TaskCpu"},
                "Memory": {"Ref": "TaskMemory"},
                "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
                "ContainerDefinitions": [
                    {
                        "Name": "serve",
                        "Image": {"Fn::Sub": f"${{Repository.RepositoryUri}}:${{{tag_param}}}"},
                        "Essential": True,
                        "PortMappings": [{"ContainerPort": SERVE_PORT, "Protocol": "tcp"}],
                        "Environment": [
                            {"Name": "DOCKYARD_DEPLOYMENT", "Value": plan.name},
                            {"Name": "DOCKYARD_MODEL", "Value": plan.model},
                        ],
                        **_token_secret(plan),
                        "HealthCheck": {
                            "Command": _health_command(),
                            "Interval": 15,
                            "Timeout": 5,
                            "Retries": 3,
                            "StartPeriod": 30,
                        },
                        "LogConfiguration": {
                            "LogDriver": "awslogs",
                            "Options": {
                                "awslogs-group": {"Ref": "LogGroup"},
                                "awslogs-region": {"Ref": "AWS::Region"},
                                "awslogs-stream-prefix": version.tag,
                            },
                        },
                    }
                ],
            },
        }
        resources[svc] = {
            "Type": "AWS::ECS::Service",
            "DependsOn": ["Listener"],
            "Properties": {
                "Cluster": {"Ref": "Cluster"},
                "LaunchType": "FARGATE",
                "DesiredCount": {"Ref": "DesiredCount"},
                "TaskDefinition": {"Ref": task},
                "HealthCheckGracePeriodSeconds": 60,
                "NetworkConfiguration": {
                    "AwsvpcConfiguration": {
                        "AssignPublicIp": "ENABLED",
                        "Subnets": {"Ref": "SubnetIds"},
                        "SecurityGroups": [{"Fn::GetAtt": ["ServiceSecurityGroup", "GroupId"]}],
                    }
                },
                "LoadBalancers": [
                    {
                        "ContainerName": "serve",
                        "ContainerPort": SERVE_PORT,
                        "TargetGroupArn": {"Ref": group},
                    }
                ],
            },
        }
        forward.append({"TargetGroupArn": {"Ref": group}, "Weight": {"Ref": weight_param}})
    resources["Listener"] = {
        "Type": "AWS::ElasticLoadBalancingV2::Listener",
        "Properties": {
            "LoadBalancerArn": {"Ref": "LoadBalancer"},
            "Port": 80,
            "Protocol": "HTTP",
            "DefaultActions": [{"Type": "forward", "ForwardConfig": {"TargetGroups": forward}}],
        },
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"dockyard deployment {plan.name}: {plan.model} on ECS Fargate behind an "
            "Application Load Balancer, one weighted target group per version."
        ),
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": {
            "Url": {
                "Description": "The deployment's address",
                "Value": {"Fn::Sub": "http://${LoadBalancer.DNSName}"},
            },
            "RepositoryUri": {
                "Description": "Push the images here (tag vN for version N)",
                "Value": {"Fn::GetAtt": ["Repository", "RepositoryUri"]},
            },
        },
    }
