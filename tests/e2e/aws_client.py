"""An independent AWS client for the end-to-end tests: boto3 against the emulator.

The tests use it to check what envctl did without trusting envctl's own reads, and to change
things behind envctl's back (drift). Every command prints one JSON document on stdout.

usage: aws_client.py ENDPOINT [--region REGION] [--role ROLE_ARN] COMMAND [ARGS...]

`--region` reads another region than us-east-1; `--role` assumes the role first (the
emulator then answers for the role's account), to see what lives in another account.
"""
import json
import sys

import boto3

# Where the client looks: set by main from --region and --role.
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def client(endpoint, service):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


def assume(endpoint, role_arn):
    """The credentials of `role_arn`, assumed with the default ones."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=REGION,
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    found = sts.assume_role(RoleArn=role_arn, RoleSessionName="aws-client")["Credentials"]
    return {"aws_access_key_id": found["AccessKeyId"],
            "aws_secret_access_key": found["SecretAccessKey"],
            "aws_session_token": found["SessionToken"]}


def clients(endpoint):
    return client(endpoint, "ec2"), client(endpoint, "rds")


def tags(items):
    return {t["Key"]: t.get("Value", "") for t in items or []}


def inventory(ec2, rds, logs, ssm, cloudwatch):
    out = {"vpcs": [], "subnets": [], "security_groups": [], "instances": [],
           "db_subnet_groups": [], "db_clusters": [], "db_instances": [],
           "log_groups": [], "parameters": [], "db_cluster_parameter_groups": [],
           "alarms": [], "dashboards": []}
    for page in cloudwatch.get_paginator("list_dashboards").paginate():
        for d in page["DashboardEntries"]:
            body = cloudwatch.get_dashboard(DashboardName=d["DashboardName"])["DashboardBody"]
            out["dashboards"].append({"id": d["DashboardName"], "body": json.loads(body)})
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
        for a in page["MetricAlarms"]:
            alarm_tags = cloudwatch.list_tags_for_resource(ResourceARN=a["AlarmArn"])["Tags"]
            out["alarms"].append({"id": a["AlarmName"], "namespace": a["Namespace"],
                                  "metric": a["MetricName"], "statistic": a.get("Statistic"),
                                  "comparison": a["ComparisonOperator"],
                                  "threshold": a["Threshold"], "period": a["Period"],
                                  "evaluation_periods": a["EvaluationPeriods"],
                                  "dimensions": {d["Name"]: d["Value"] for d in a["Dimensions"]},
                                  "actions": a.get("AlarmActions", []),
                                  "tags": tags(alarm_tags)})
    for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]:
        group_tags = rds.list_tags_for_resource(ResourceName=g["DBClusterParameterGroupArn"])
        out["db_cluster_parameter_groups"].append({"id": g["DBClusterParameterGroupName"],
                                                   "family": g["DBParameterGroupFamily"],
                                                   "tags": tags(group_tags["TagList"])})
    for g in logs.describe_log_groups()["logGroups"]:
        group_tags = logs.list_tags_for_resource(resourceArn=g["logGroupArn"]).get("tags", {})
        out["log_groups"].append({"id": g["logGroupName"],
                                  "retention_days": g.get("retentionInDays"),
                                  "kms_key": g.get("kmsKeyId"), "tags": group_tags})
    for page in ssm.get_paginator("describe_parameters").paginate():
        for p in page["Parameters"]:
            value = ssm.get_parameter(Name=p["Name"])["Parameter"]
            parameter_tags = ssm.list_tags_for_resource(ResourceType="Parameter",
                                                        ResourceId=p["Name"])["TagList"]
            out["parameters"].append({"id": p["Name"], "type": value["Type"],
                                      "value": value["Value"], "tags": tags(parameter_tags)})
    for v in ec2.describe_vpcs()["Vpcs"]:
        out["vpcs"].append({"id": v["VpcId"], "cidr": v["CidrBlock"], "tags": tags(v.get("Tags"))})
    for s in ec2.describe_subnets()["Subnets"]:
        out["subnets"].append({"id": s["SubnetId"], "vpc": s["VpcId"], "cidr": s["CidrBlock"],
                               "zone": s["AvailabilityZone"], "tags": tags(s.get("Tags"))})
    for g in ec2.describe_security_groups()["SecurityGroups"]:
        out["security_groups"].append({"id": g["GroupId"], "name": g["GroupName"],
                                       "vpc": g.get("VpcId"), "tags": tags(g.get("Tags")),
                                       "ingress": g.get("IpPermissions", []),
                                       "egress": g.get("IpPermissionsEgress", [])})
    volume_sizes = {}
    for v in ec2.describe_volumes()["Volumes"]:
        for a in v.get("Attachments", []):
            volume_sizes.setdefault(a["InstanceId"], []).append(v["Size"])
    for r in ec2.describe_instances()["Reservations"]:
        for i in r["Instances"]:
            out["instances"].append({"id": i["InstanceId"], "state": i["State"]["Name"],
                                     "type": i["InstanceType"], "subnet": i.get("SubnetId"),
                                     "ami": i["ImageId"], "tags": tags(i.get("Tags")),
                                     "volume_sizes": sorted(volume_sizes.get(i["InstanceId"], []))})
    for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]:
        out["db_subnet_groups"].append({"id": g["DBSubnetGroupName"],
                                        "tags": tags(rds.list_tags_for_resource(ResourceName=g["DBSubnetGroupArn"])["TagList"])})
    for c in rds.describe_db_clusters()["DBClusters"]:
        out["db_clusters"].append({"id": c["DBClusterIdentifier"], "status": c["Status"],
                                   "engine_version": c["EngineVersion"],
                                   "backup_retention_days": c["BackupRetentionPeriod"],
                                   "deletion_protection": c.get("DeletionProtection", False),
                                   "managed_password": "MasterUserSecret" in c,
                                   "tags": tags(c.get("TagList"))})
    for i in rds.describe_db_instances()["DBInstances"]:
        out["db_instances"].append({"id": i["DBInstanceIdentifier"], "class": i["DBInstanceClass"],
                                    "cluster": i.get("DBClusterIdentifier"),
                                    "tags": tags(i.get("TagList"))})
    return out


def build_by_hand(ec2, rds, logs, ssm, plan):
    """An environment as a person builds it in the console: no envctl tags, `Name` tags as a
    person writes them, a VPC with two subnets, a web and a database group, `instances` web
    servers spread over the subnets, an Aurora cluster with `db_instances` instances.
    `plan` keys: prefix, cidr (`10.1`), instances, instance_type, db_instances, db_class,
    retention, ssh_from (optional: a CIDR allowed on port 22), gateway (optional: an internet
    gateway attached). Prints the ids made."""
    prefix, net = plan["prefix"], plan["cidr"]

    def named(kind, name):
        return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]}]

    vpc = ec2.create_vpc(CidrBlock=f"{net}.0.0/16",
                         TagSpecifications=named("vpc", f"{prefix} network"))["Vpc"]["VpcId"]
    subnets = []
    for letter, zone in (("a", "us-east-1a"), ("b", "us-east-1b")):
        subnets.append(ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"{net}.{len(subnets) + 1}.0/24", AvailabilityZone=zone,
            TagSpecifications=named("subnet", f"{prefix}-private-{letter}"))["Subnet"]["SubnetId"])
    if plan.get("gateway"):
        gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    web = ec2.create_security_group(
        GroupName=f"{prefix}-web", Description="web servers", VpcId=vpc,
        TagSpecifications=named("security-group", f"{prefix}-web"))["GroupId"]
    rules = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
              "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    if plan.get("ssh_from"):
        rules.append({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                      "IpRanges": [{"CidrIp": plan["ssh_from"]}]})
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=rules)
    db = ec2.create_security_group(
        GroupName=f"{prefix}-db", Description="database", VpcId=vpc,
        TagSpecifications=named("security-group", f"{prefix}-db"))["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "UserIdGroupPairs": [{"GroupId": web}]}])
    instances = []
    for n in range(plan["instances"]):
        r = ec2.run_instances(ImageId="ami-04681a1dbd79675a5", InstanceType=plan["instance_type"],
                              MinCount=1, MaxCount=1, SubnetId=subnets[n % 2],
                              SecurityGroupIds=[web],
                              TagSpecifications=named("instance", f"{prefix}-web-{n + 1}"))
        instances.append(r["Instances"][0]["InstanceId"])
    group = f"{prefix}-db-subnets"
    rds.create_db_subnet_group(DBSubnetGroupName=group, DBSubnetGroupDescription="db subnets",
                               SubnetIds=subnets)
    cluster = f"{prefix}-orders"
    rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-postgresql",
                          EngineVersion="15.4", MasterUsername="app",
                          MasterUserPassword="not-a-secret-1", DBSubnetGroupName=group,
                          VpcSecurityGroupIds=[db], StorageEncrypted=True,
                          BackupRetentionPeriod=plan["retention"],
                          PreferredBackupWindow="03:00-04:00", DeletionProtection=True,
                          # What AWS gives an Aurora PostgreSQL 15 cluster by default (the
                          # emulator would give it `default.aurora8.0`).
                          DBClusterParameterGroupName="default.aurora-postgresql15")
    members = []
    for n in range(plan["db_instances"]):
        name = f"{cluster}-{n + 1}"
        rds.create_db_instance(DBInstanceIdentifier=name, DBClusterIdentifier=cluster,
                               Engine="aurora-postgresql", DBInstanceClass=plan["db_class"],
                               DBSubnetGroupName=group)
        members.append(name)
    if plan.get("config"):
        path = plan["config"]
        environment = path.rsplit("/", 1)[-1]
        logs.create_log_group(logGroupName=f"{path}/app")
        logs.put_retention_policy(logGroupName=f"{path}/app", retentionInDays=30)
        ssm.put_parameter(Name=f"{path}/log-level", Value="INFO", Type="String")
        ssm.put_parameter(Name=f"{path}/trace-endpoint", Value=f"{environment}-jaeger:6831",
                          Type="String")
        ssm.put_parameter(Name=f"{path}/db-password", Value="hunter2-not-shown",
                          Type="SecureString")
    return {"vpc": vpc, "subnets": subnets, "web": web, "db": db, "instances": instances,
            "db_subnet_group": group, "cluster": cluster, "db_instances": members}


def main():
    global REGION, CREDENTIALS
    endpoint, rest = sys.argv[1], sys.argv[2:]
    while rest and rest[0] in ("--region", "--role"):
        if rest[0] == "--region":
            REGION = rest[1]
        else:
            CREDENTIALS = assume(endpoint, rest[1])
        rest = rest[2:]
    command, args = rest[0], rest[1:]
    ec2, rds = clients(endpoint)
    logs, ssm = client(endpoint, "logs"), client(endpoint, "ssm")
    cloudwatch = client(endpoint, "cloudwatch")
    if command == "inventory":
        result = inventory(ec2, rds, logs, ssm, cloudwatch)
    elif command == "id-of":
        collection, environment, address = args
        matches = [item["id"] for item in inventory(ec2, rds, logs, ssm, cloudwatch)[collection]
                   if item["tags"].get("envctl:environment") == environment
                   and item["tags"].get("envctl:address") == address
                   and item.get("state") not in ("terminated", "shutting-down")]
        if len(matches) != 1:
            sys.exit(f"expected one {address} in {environment}, found {matches}")
        result = matches[0]
    elif command == "set-instance-type":
        instance_id, instance_type = args
        ec2.stop_instances(InstanceIds=[instance_id])
        ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": instance_type})
        ec2.start_instances(InstanceIds=[instance_id])
        result = {"ok": True}
    elif command == "create-vpc":
        cidr, tag_json = args
        tag_list = [{"Key": k, "Value": v} for k, v in json.loads(tag_json).items()]
        spec = [{"ResourceType": "vpc", "Tags": tag_list}] if tag_list else []
        result = {"id": ec2.create_vpc(CidrBlock=cidr, TagSpecifications=spec)["Vpc"]["VpcId"]}
    elif command == "create-subnet":
        vpc_id, cidr, zone, tag_json = args
        tag_list = [{"Key": k, "Value": v} for k, v in json.loads(tag_json).items()]
        spec = [{"ResourceType": "subnet", "Tags": tag_list}] if tag_list else []
        result = {"id": ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone,
                                          TagSpecifications=spec)["Subnet"]["SubnetId"]}
    elif command == "set-tag":
        resource_id, key, value = args
        ec2.create_tags(Resources=[resource_id], Tags=[{"Key": key, "Value": value}])
        result = {"ok": True}
    elif command == "delete-tag":
        resource_id, key = args
        ec2.delete_tags(Resources=[resource_id], Tags=[{"Key": key}])
        result = {"ok": True}
    elif command == "duplicate-subnet":
        subnet_id, cidr = args
        original = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
        copy = ec2.create_subnet(
            VpcId=original["VpcId"], CidrBlock=cidr,
            AvailabilityZone=original["AvailabilityZone"],
            TagSpecifications=[{"ResourceType": "subnet", "Tags": original.get("Tags", [])}])
        result = {"id": copy["Subnet"]["SubnetId"]}
    elif command == "set-alarm-threshold":
        # Rewrites the alarm as it is with another threshold (PutMetricAlarm replaces it
        # whole), as a console edit does.
        name, threshold = args
        a = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        cloudwatch.put_metric_alarm(
            AlarmName=name, Namespace=a["Namespace"], MetricName=a["MetricName"],
            Statistic=a["Statistic"], ComparisonOperator=a["ComparisonOperator"],
            Threshold=float(threshold), Period=a["Period"],
            EvaluationPeriods=a["EvaluationPeriods"], Dimensions=a["Dimensions"],
            AlarmActions=a.get("AlarmActions", []))
        result = {"ok": True}
    elif command == "delete-alarm":
        (name,) = args
        cloudwatch.delete_alarms(AlarmNames=[name])
        result = {"ok": True}
    elif command == "create-alarm":
        # An alarm someone else made under a name envctl's naming would use.
        name, instance_id = args
        cloudwatch.put_metric_alarm(
            AlarmName=name, Namespace="AWS/EC2", MetricName="NetworkIn", Statistic="Sum",
            ComparisonOperator="GreaterThanThreshold", Threshold=1.0, Period=60,
            EvaluationPeriods=1, Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
            Tags=[{"Key": "team", "Value": "someone-else"}])
        result = {"ok": True}
    elif command == "put-dashboard":
        name, body = args
        cloudwatch.put_dashboard(DashboardName=name, DashboardBody=body)
        result = {"ok": True}
    elif command == "set-parameter":
        name, value = args
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        result = {"ok": True}
    elif command == "cluster-parameters":
        (name,) = args
        try:
            found = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=name,
                                                       Source="user")["Parameters"]
            result = {p["ParameterName"]: p.get("ParameterValue") for p in found}
        except rds.exceptions.DBParameterGroupNotFoundFault:
            result = None
    elif command == "set-cluster-parameter":
        name, key, value = args
        rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=name, Parameters=[
            {"ParameterName": key, "ParameterValue": value, "ApplyMethod": "immediate"}])
        result = {"ok": True}
    elif command == "get-secret":
        (name,) = args
        result = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    elif command == "set-retention":
        name, days = args
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(days))
        result = {"ok": True}
    elif command == "create-log-group":
        (name,) = args
        logs.create_log_group(logGroupName=name)
        result = {"ok": True}
    elif command == "stop-instance":
        ec2.stop_instances(InstanceIds=args)
        result = {"ok": True}
    elif command == "cluster":
        (cluster_id,) = args
        c = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        result = {"id": c["DBClusterIdentifier"], "status": c.get("Status"),
                  "deletion_protection": c.get("DeletionProtection"),
                  "parameter_group": c.get("DBClusterParameterGroup"),
                  "endpoint": c.get("Endpoint"),
                  "security_groups": sorted(g["VpcSecurityGroupId"]
                                            for g in c.get("VpcSecurityGroups", []))}
    elif command == "cluster-snapshots":
        (cluster_id,) = args
        snaps = rds.describe_db_cluster_snapshots(DBClusterIdentifier=cluster_id)
        result = sorted(s["DBClusterSnapshotIdentifier"] for s in snaps["DBClusterSnapshots"]
                        if s.get("SnapshotType") == "manual")
    elif command == "terminate-instance":
        ec2.terminate_instances(InstanceIds=args)
        result = {"ok": True}
    elif command == "revoke-ingress":
        group_id, protocol, port, cidr = args
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[{
            "IpProtocol": protocol, "FromPort": int(port), "ToPort": int(port),
            "IpRanges": [{"CidrIp": cidr}]}])
        result = {"ok": True}
    elif command == "authorize-ingress":
        group_id, protocol, port, cidr = args
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[{
            "IpProtocol": protocol, "FromPort": int(port), "ToPort": int(port),
            "IpRanges": [{"CidrIp": cidr}]}])
        result = {"ok": True}
    elif command == "set-backup-retention":
        cluster_id, days = args
        rds.modify_db_cluster(DBClusterIdentifier=cluster_id, BackupRetentionPeriod=int(days),
                              ApplyImmediately=True)
        result = {"ok": True}
    elif command == "set-engine-version":
        cluster_id, version = args
        rds.modify_db_cluster(DBClusterIdentifier=cluster_id, EngineVersion=version,
                              ApplyImmediately=True)
        result = {"ok": True}
    elif command == "create-foreign-db-subnet-group":
        (name,) = args
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24",
                                     AvailabilityZone=f"us-east-1{zone}")["Subnet"]["SubnetId"]
                   for i, zone in ((1, "a"), (2, "b"))]
        rds.create_db_subnet_group(DBSubnetGroupName=name, DBSubnetGroupDescription="not envctl's",
                                   SubnetIds=subnets)
        result = {"ok": True}
    elif command == "put-lock":
        bucket, key, body = args
        s3 = client(endpoint, "s3")
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
        result = {"ok": True}
    elif command == "get-lock":
        bucket, key = args
        s3 = client(endpoint, "s3")
        try:
            result = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except (s3.exceptions.NoSuchKey, s3.exceptions.NoSuchBucket):
            result = None
    elif command == "bucket-info":
        (bucket,) = args
        s3 = client(endpoint, "s3")
        names = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
        if bucket not in names:
            result = None
        else:
            block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
            result = {"versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
                      "public_access_blocked": all(block.values())}
    elif command == "run-instance":
        subnet_id, tag_json = args
        tag_list = [{"Key": k, "Value": v} for k, v in json.loads(tag_json).items()]
        spec = [{"ResourceType": "instance", "Tags": tag_list}] if tag_list else []
        r = ec2.run_instances(ImageId="ami-04681a1dbd79675a5", InstanceType="t3.micro",
                              MinCount=1, MaxCount=1, SubnetId=subnet_id, TagSpecifications=spec)
        result = {"id": r["Instances"][0]["InstanceId"]}
    elif command == "build-by-hand":
        result = build_by_hand(ec2, rds, logs, ssm, json.loads(args[0]))
    else:
        sys.exit(f"unknown command {command}")
    json.dump(result, sys.stdout, default=str)


if __name__ == "__main__":
    main()
