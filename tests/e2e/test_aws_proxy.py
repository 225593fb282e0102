"""Self-test of aws_proxy.py's strict mode, slow transitions, scripted failures and random
faults (lost answers, the action filter), against a real moto_server.

usage: .venv/bin/python tests/e2e/test_aws_proxy.py [-v]

With AWS_PROXY_TEST_LOG=FILE the proxies log verbosely to FILE.

Starts moto_server (from the same virtual environment) on a free port, one proxy in front of it
with `--strict --slow-describes 2` and one with neither option, and checks each rule with boto3
through them; the scripted-failure and fault tests start proxies of their own. Every test builds
its own resources (its own VPC and names), so the tests share one emulator without resetting it.
"""
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
import uuid
from pathlib import Path

import boto3
import botocore.config
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import aws_proxy  # noqa: E402  (the in-process tests of its parts)

PROXY = HERE / "aws_proxy.py"
MOTO_SERVER = Path(sys.executable).parent / "moto_server"
AMI = "ami-760aaa0f"
SLOW = 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_proxy(upstream, *flags):
    log = os.environ.get("AWS_PROXY_TEST_LOG")  # a file for the proxies' --verbose logs
    stderr = open(log, "a") if log else subprocess.DEVNULL
    flags += ("--verbose",) if log else ()
    process = subprocess.Popen([sys.executable, str(PROXY), "--upstream", upstream, *flags],
                               stdout=subprocess.PIPE, stderr=stderr, text=True)
    if log:
        stderr.close()
    line = process.stdout.readline().strip()
    if not line.startswith("ready "):
        process.kill()
        raise RuntimeError(f"the proxy said {line!r}")
    return process, f"http://127.0.0.1:{line.split()[1]}"


def stop(process):
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def control(endpoint, path, document=None):
    data = None if document is None else json.dumps(document).encode()
    request = urllib.request.Request(endpoint + path, data=data,
                                     method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def clients(endpoint, retries=None):
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
              aws_secret_access_key="testing",
              config=botocore.config.Config(retries=retries or {"max_attempts": 1}))
    return boto3.client("ec2", **kw), boto3.client("rds", **kw)


def raw(endpoint, method, path, body=b"", service=None):
    """One request as it is, signed (not validly) for `service`: (status, headers, body)."""
    address = endpoint.removeprefix("http://")
    conn = http.client.HTTPConnection(address, timeout=10)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    if service:
        headers["Authorization"] = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/"
                                    f"{service}/aws4_request, SignedHeaders=host, Signature=0")
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class ProxyTest(unittest.TestCase):
    moto = strict_proxy = plain_proxy = None

    @classmethod
    def setUpClass(cls):
        port = free_port()
        cls.moto = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.time() > deadline or cls.moto.poll() is not None:
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
        cls.upstream = f"http://127.0.0.1:{port}"
        cls.strict_proxy, cls.strict = start_proxy(cls.upstream, "--strict",
                                                   "--slow-describes", str(SLOW))
        cls.plain_proxy, cls.plain = start_proxy(cls.upstream)
        cls.ec2, cls.rds = clients(cls.strict)
        cls.plain_ec2, _ = clients(cls.plain)
        cls.raw_ec2, cls.raw_rds = clients(cls.upstream)  # the emulator itself, no proxy
        cls.ec2.describe_images(ImageIds=[AMI])  # the emulator loads its AMIs once (~2 s)

    @classmethod
    def tearDownClass(cls):
        for process in (cls.strict_proxy, cls.plain_proxy, cls.moto):
            stop(process)
        for process in (cls.strict_proxy, cls.plain_proxy):
            if process and process.stdout:
                process.stdout.close()

    # helpers

    def assertRefused(self, code, call, *args, **kwargs):
        with self.assertRaises(ClientError) as caught:
            call(*args, **kwargs)
        self.assertEqual(caught.exception.response["Error"]["Code"], code,
                         caught.exception.response)
        return caught.exception.response

    def network(self, ec2=None):
        """A VPC with subnets in us-east-1a and us-east-1b and one security group."""
        ec2 = ec2 or self.ec2
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24",
                                     AvailabilityZone=zone)["Subnet"]["SubnetId"]
                   for n, zone in ((1, "us-east-1a"), (2, "us-east-1b"))]
        group = ec2.create_security_group(VpcId=vpc, GroupName=name("sg"),
                                          Description="test")["GroupId"]
        return vpc, subnets, group

    def run_instance(self, subnet, group, ec2=None):
        ec2 = ec2 or self.ec2
        return ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                 SubnetId=subnet, SecurityGroupIds=[group]
                                 )["Instances"][0]["InstanceId"]

    def instance(self, instance_id, ec2=None):
        ec2 = ec2 or self.ec2
        return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]

    def state_of(self, instance_id):
        return self.instance(instance_id)["State"]

    def cluster_status(self, identifier):
        return self.rds.describe_db_clusters(DBClusterIdentifier=identifier
                                             )["DBClusters"][0]["Status"]

    def refused(self):
        return control(self.strict, "/__proxy/stats")[1]["strict"]["refused"]

    # EC2

    def test_run_reads_pending_twice_then_running(self):
        _, subnets, group = self.network()
        instance_id = self.run_instance(subnets[0], group)
        self.assertEqual(self.state_of(instance_id), {"Code": 0, "Name": "pending"})
        self.assertEqual(self.state_of(instance_id), {"Code": 0, "Name": "pending"})
        self.assertEqual(self.state_of(instance_id), {"Code": 16, "Name": "running"})

    def test_type_change_needs_a_stopped_instance(self):
        _, subnets, group = self.network()
        instance_id = self.run_instance(subnets[0], group)
        for _ in range(SLOW):
            self.state_of(instance_id)
        self.assertEqual(self.state_of(instance_id)["Name"], "running")
        before = self.refused().get("IncorrectInstanceState", 0)
        response = self.assertRefused(
            "IncorrectInstanceState", self.ec2.modify_instance_attribute,
            InstanceId=instance_id, InstanceType={"Value": "t3.large"})
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(response["Error"]["Message"],
                         f"The instance '{instance_id}' is not in the 'stopped' state.")
        self.assertEqual(self.instance(instance_id, self.raw_ec2)["InstanceType"], "t3.micro",
                         "the refused change must not reach the emulator")

        self.ec2.stop_instances(InstanceIds=[instance_id])
        self.assertEqual(self.state_of(instance_id), {"Code": 64, "Name": "stopping"})
        # Still stopping: a type change (by Attribute/Value too) and a start are refused.
        self.assertRefused("IncorrectInstanceState", self.ec2.modify_instance_attribute,
                           InstanceId=instance_id, Attribute="instanceType", Value="t3.large")
        self.assertRefused("IncorrectInstanceState", self.ec2.start_instances,
                           InstanceIds=[instance_id])
        self.assertEqual(self.state_of(instance_id), {"Code": 64, "Name": "stopping"})
        self.assertEqual(self.state_of(instance_id), {"Code": 80, "Name": "stopped"})
        self.ec2.modify_instance_attribute(InstanceId=instance_id,
                                           InstanceType={"Value": "t3.large"})
        self.assertEqual(self.instance(instance_id)["InstanceType"], "t3.large")
        self.assertEqual(self.refused().get("IncorrectInstanceState", 0), before + 3)

        self.ec2.start_instances(InstanceIds=[instance_id])
        self.assertEqual(self.state_of(instance_id)["Name"], "pending")
        self.ec2.terminate_instances(InstanceIds=[instance_id])
        self.assertEqual(self.state_of(instance_id), {"Code": 32, "Name": "shutting-down"})
        self.assertEqual(self.state_of(instance_id), {"Code": 32, "Name": "shutting-down"})
        self.assertEqual(self.state_of(instance_id), {"Code": 48, "Name": "terminated"})
        self.assertRefused("IncorrectInstanceState", self.ec2.start_instances,
                           InstanceIds=[instance_id])

    def test_security_group_in_use_cannot_be_deleted(self):
        vpc, subnets, group = self.network()
        instance_id = self.run_instance(subnets[0], group)
        response = self.assertRefused("DependencyViolation", self.ec2.delete_security_group,
                                      GroupId=group)
        self.assertEqual(response["Error"]["Message"], f"resource {group} has a dependent object")
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)

        # Referenced by another group's rule.
        referenced = self.ec2.create_security_group(VpcId=vpc, GroupName=name("sg"),
                                                    Description="test")["GroupId"]
        self.ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
            "UserIdGroupPairs": [{"GroupId": referenced}]}])
        self.assertRefused("DependencyViolation", self.ec2.delete_security_group,
                           GroupId=referenced)

        self.ec2.terminate_instances(InstanceIds=[instance_id])
        self.ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
            "UserIdGroupPairs": [{"GroupId": referenced}]}])
        self.ec2.delete_security_group(GroupId=referenced)
        self.ec2.delete_security_group(GroupId=group)  # its only instance is shutting down

    def test_subnet_with_an_instance_cannot_be_deleted(self):
        _, subnets, group = self.network()
        instance_id = self.run_instance(subnets[0], group)
        response = self.assertRefused("DependencyViolation", self.ec2.delete_subnet,
                                      SubnetId=subnets[0])
        self.assertEqual(response["Error"]["Message"],
                         f"The subnet '{subnets[0]}' has dependencies and cannot be deleted.")
        self.ec2.terminate_instances(InstanceIds=[instance_id])
        # shutting-down for two describes: still in the subnet.
        self.assertRefused("DependencyViolation", self.ec2.delete_subnet, SubnetId=subnets[0])
        for _ in range(SLOW):
            self.assertEqual(self.state_of(instance_id)["Name"], "shutting-down")
        self.assertEqual(self.state_of(instance_id)["Name"], "terminated")
        self.ec2.delete_subnet(SubnetId=subnets[0])
        self.ec2.delete_subnet(SubnetId=subnets[1])

    def test_vpc_with_a_security_group_cannot_be_deleted(self):
        vpc, subnets, group = self.network()
        for subnet in subnets:
            self.ec2.delete_subnet(SubnetId=subnet)
        response = self.assertRefused("DependencyViolation", self.ec2.delete_vpc, VpcId=vpc)
        self.assertEqual(response["Error"]["Message"],
                         f"The vpc '{vpc}' has dependencies and cannot be deleted.")
        self.ec2.delete_security_group(GroupId=group)
        self.ec2.delete_vpc(VpcId=vpc)

    def test_without_flags_everything_is_forwarded(self):
        _, subnets, group = self.network(self.plain_ec2)
        instance_id = self.run_instance(subnets[0], group, self.plain_ec2)
        self.assertEqual(self.instance(instance_id, self.plain_ec2)["State"]["Name"], "running")
        self.plain_ec2.modify_instance_attribute(InstanceId=instance_id,
                                                 InstanceType={"Value": "t3.large"})
        self.assertEqual(self.instance(instance_id, self.plain_ec2)["InstanceType"], "t3.large")
        self.plain_ec2.delete_security_group(GroupId=group)  # moto accepts it, so the proxy does
        status, stats = control(self.plain, "/__proxy/stats")
        self.assertEqual(status, 200)
        self.assertEqual(stats["strict"], {"refused": {}, "deferred_deletes": 0})
        self.assertEqual(stats["scripted_failures"], {})
        self.assertEqual(stats["forwarded"], stats["total"])
        self.assertEqual(stats["by_action"]["ModifyInstanceAttribute"], 1)
        self.assertEqual(control(self.plain, "/__proxy/config")[1]["strict"], False)
        self.assertEqual(control(self.plain, "/__proxy/config")[1]["slow_describes"], 0)
        self.assertEqual(control(self.plain, "/__proxy/config")[1]["fail_actions"], {})
        self.assertEqual(stats["lost_by_action"], {})
        self.assertEqual(control(self.plain, "/__proxy/config")[1]["fault_actions"], [])

    # RDS

    def test_rds_creates_deferred_deletes_and_dependencies(self):
        vpc, subnets, group = self.network()
        subnet_group, cluster, member = name("sng"), name("db"), name("db-a")
        self.rds.create_db_subnet_group(DBSubnetGroupName=subnet_group,
                                        DBSubnetGroupDescription="test", SubnetIds=subnets)
        self.assertRefused("DBSubnetGroupAlreadyExists", self.rds.create_db_subnet_group,
                           DBSubnetGroupName=subnet_group, DBSubnetGroupDescription="test",
                           SubnetIds=subnets)
        create = dict(DBClusterIdentifier=cluster, Engine="aurora-postgresql",
                      EngineVersion="15.4", MasterUsername="app", ManageMasterUserPassword=True,
                      DBSubnetGroupName=subnet_group, VpcSecurityGroupIds=[group])
        self.rds.create_db_cluster(**create)
        self.assertEqual(self.cluster_status(cluster), "creating")
        self.assertEqual(self.cluster_status(cluster), "creating")
        self.assertEqual(self.cluster_status(cluster), "available")
        response = self.assertRefused("DBClusterAlreadyExistsFault", self.rds.create_db_cluster,
                                      **create)
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(response["Error"]["Message"], "DB Cluster already exists")

        self.rds.create_db_instance(DBInstanceIdentifier=member, DBClusterIdentifier=cluster,
                                    Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
        self.assertRefused("DBInstanceAlreadyExists", self.rds.create_db_instance,
                           DBInstanceIdentifier=member, DBClusterIdentifier=cluster,
                           Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
        self.assertRefused("InvalidDBClusterStateFault", self.rds.delete_db_cluster,
                           DBClusterIdentifier=cluster, SkipFinalSnapshot=True)

        # The member's delete is deferred: `deleting` for two describes, then gone.
        deleted = self.rds.delete_db_instance(DBInstanceIdentifier=member)["DBInstance"]
        self.assertEqual(deleted["DBInstanceIdentifier"], member)
        self.assertEqual(deleted["DBInstanceStatus"], "deleting")
        self.assertRefused("InvalidDBInstanceState", self.rds.delete_db_instance,
                           DBInstanceIdentifier=member)
        self.assertRefused("InvalidDBClusterStateFault", self.rds.delete_db_cluster,
                           DBClusterIdentifier=cluster, SkipFinalSnapshot=True)
        for _ in range(SLOW):
            self.assertEqual(self.rds.describe_db_instances(DBInstanceIdentifier=member)
                             ["DBInstances"][0]["DBInstanceStatus"], "deleting")
        self.assertRefused("DBInstanceNotFound", self.rds.describe_db_instances,
                           DBInstanceIdentifier=member)

        # The cluster's delete is deferred too, and keeps what it uses in use meanwhile.
        snapshot = name("final")
        deleted = self.rds.delete_db_cluster(DBClusterIdentifier=cluster,
                                             FinalDBSnapshotIdentifier=snapshot)["DBCluster"]
        self.assertEqual((deleted["DBClusterIdentifier"], deleted["Status"]), (cluster, "deleting"))
        self.assertEqual(self.raw_rds.describe_db_clusters(DBClusterIdentifier=cluster)
                         ["DBClusters"][0]["DBClusterIdentifier"], cluster,
                         "the emulator still has the cluster")
        self.assertRefused("InvalidDBClusterStateFault", self.rds.delete_db_cluster,
                           DBClusterIdentifier=cluster, SkipFinalSnapshot=True)
        self.assertRefused("DBClusterAlreadyExistsFault", self.rds.create_db_cluster, **create)
        response = self.assertRefused("InvalidDBSubnetGroupStateFault",
                                      self.rds.delete_db_subnet_group,
                                      DBSubnetGroupName=subnet_group)
        self.assertEqual(response["Error"]["Message"],
                         f"Cannot delete the subnet group '{subnet_group}' because at least one "
                         f"database instance: {cluster} is still using it.")
        self.assertRefused("DependencyViolation", self.ec2.delete_security_group, GroupId=group)
        self.assertRefused("DependencyViolation", self.ec2.delete_subnet, SubnetId=subnets[0])
        self.assertEqual(self.cluster_status(cluster), "deleting")
        self.assertEqual(self.cluster_status(cluster), "deleting")
        response = self.assertRefused("DBClusterNotFoundFault", self.rds.describe_db_clusters,
                                      DBClusterIdentifier=cluster)
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 404)
        # The real delete had the client's parameters: its final snapshot exists.
        self.assertEqual(len(self.raw_rds.describe_db_cluster_snapshots(
            DBClusterSnapshotIdentifier=snapshot)["DBClusterSnapshots"]), 1)

        self.rds.delete_db_subnet_group(DBSubnetGroupName=subnet_group)
        self.ec2.delete_security_group(GroupId=group)
        for subnet in subnets:
            self.ec2.delete_subnet(SubnetId=subnet)
        self.ec2.delete_vpc(VpcId=vpc)

        stats = control(self.strict, "/__proxy/stats")[1]
        self.assertGreaterEqual(stats["strict"]["deferred_deletes"], 2)
        for code in ("DBSubnetGroupAlreadyExists", "DBClusterAlreadyExistsFault",
                     "DBInstanceAlreadyExists", "InvalidDBClusterStateFault",
                     "InvalidDBInstanceState", "InvalidDBSubnetGroupStateFault",
                     "DependencyViolation"):
            self.assertGreaterEqual(stats["strict"]["refused"].get(code, 0), 1, code)
        self.assertNotIn("DescribeDBSnapshots", stats["by_action"],
                         "the proxy's own lookups are not counted")
        self.assertEqual(stats["by_action"]["DeleteDBCluster"] >= 4, True)

    def test_deletion_protection_refuses_instead_of_deferring(self):
        cluster = name("db")
        self.rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-postgresql",
                                   EngineVersion="15.4", MasterUsername="app",
                                   ManageMasterUserPassword=True, DeletionProtection=True)
        response = self.assertRefused("InvalidParameterCombination", self.rds.delete_db_cluster,
                                      DBClusterIdentifier=cluster, SkipFinalSnapshot=True)
        self.assertIn("deletion protection", response["Error"]["Message"])
        self.rds.modify_db_cluster(DBClusterIdentifier=cluster, DeletionProtection=False,
                                   ApplyImmediately=True)
        self.assertEqual(self.cluster_status(cluster), "modifying")
        self.rds.delete_db_cluster(DBClusterIdentifier=cluster, SkipFinalSnapshot=True)
        # Turning slow transitions off forwards the deferred delete at once.
        self.assertEqual(control(self.strict, "/__proxy/config", {"slow_describes": 0})[0], 200)
        try:
            self.assertRefused("DBClusterNotFoundFault", self.rds.describe_db_clusters,
                               DBClusterIdentifier=cluster)
        finally:
            control(self.strict, "/__proxy/config", {"slow_describes": SLOW})

    # Scripted failures

    def own_proxy(self, *flags):
        """A proxy of this test's own (stopped at its end) and EC2/RDS clients through it that
        never retry."""
        process, endpoint = start_proxy(self.upstream, *flags)
        self.addCleanup(process.stdout.close)
        self.addCleanup(stop, process)
        return (endpoint, *clients(endpoint, {"total_max_attempts": 1}))

    def test_scripted_ec2_failure_after_skipped_requests(self):
        proxy, ec2, _ = self.own_proxy(
            "--fail-action", "ModifyInstanceAttribute:1:1:InvalidParameterValue:400")
        _, subnets, group = self.network(self.raw_ec2)
        instance_id = self.run_instance(subnets[0], group, self.raw_ec2)
        ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "t3.small"})
        self.assertEqual(self.instance(instance_id, self.raw_ec2)["InstanceType"], "t3.small")
        response = self.assertRefused("InvalidParameterValue", ec2.modify_instance_attribute,
                                      InstanceId=instance_id, InstanceType={"Value": "t3.large"})
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(response["Error"]["Message"], "injected by aws_proxy")
        self.assertEqual(self.instance(instance_id, self.raw_ec2)["InstanceType"], "t3.small",
                         "the failed request must not reach the emulator")
        ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "t3.large"})
        self.assertEqual(self.instance(instance_id, self.raw_ec2)["InstanceType"], "t3.large")
        stats = control(proxy, "/__proxy/stats")[1]
        self.assertEqual(stats["scripted_failures"], {"ModifyInstanceAttribute": 1})
        self.assertEqual(stats["by_action"], {"ModifyInstanceAttribute": 3})
        self.assertEqual(stats["faulted_by_action"], {"ModifyInstanceAttribute": 1})
        self.assertEqual((stats["total"], stats["faulted"], stats["forwarded"]), (3, 1, 2))
        self.assertEqual(control(proxy, "/__proxy/config")[1]["fail_actions"], {
            "ModifyInstanceAttribute": {"skip": 1, "times": 1, "code": "InvalidParameterValue",
                                        "status": 400, "message": "injected by aws_proxy"}})

    def test_scripted_rds_failure_keeps_the_cluster(self):
        # With slow transitions on, the scripted failure comes first: nothing is deferred.
        proxy, _, rds = self.own_proxy("--strict", "--slow-describes", "1")
        message = "injected: can't delete <now> & here"
        status, config = control(proxy, "/__proxy/config", {"fail_actions": {"DeleteDBCluster": {
            "code": "InvalidDBClusterStateFault", "status": 409, "message": message}}})
        self.assertEqual(status, 200, config)
        cluster = name("db")
        self.raw_rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-postgresql",
                                       EngineVersion="15.4", MasterUsername="app",
                                       ManageMasterUserPassword=True)
        response = self.assertRefused("InvalidDBClusterStateFault", rds.delete_db_cluster,
                                      DBClusterIdentifier=cluster, SkipFinalSnapshot=True)
        self.assertEqual(response["ResponseMetadata"]["HTTPStatusCode"], 409)
        self.assertEqual(response["Error"]["Message"], message)
        self.assertEqual(response["Error"]["Type"], "Sender")
        self.assertEqual(self.raw_rds.describe_db_clusters(DBClusterIdentifier=cluster)
                         ["DBClusters"][0]["DBClusterIdentifier"], cluster,
                         "the emulator still has the cluster")
        self.assertEqual(control(proxy, "/__proxy/stats")[1]["strict"]["deferred_deletes"], 0)
        # The next delete is the proxy's as usual: deferred for one describe.
        self.assertEqual(rds.delete_db_cluster(DBClusterIdentifier=cluster,
                                               SkipFinalSnapshot=True)["DBCluster"]["Status"],
                         "deleting")
        self.assertEqual(rds.describe_db_clusters(DBClusterIdentifier=cluster)
                         ["DBClusters"][0]["Status"], "deleting")
        self.assertRefused("DBClusterNotFoundFault", self.raw_rds.describe_db_clusters,
                           DBClusterIdentifier=cluster)
        stats = control(proxy, "/__proxy/stats")[1]
        self.assertEqual(stats["scripted_failures"], {"DeleteDBCluster": 1})
        self.assertEqual(stats["faulted_by_action"], {"DeleteDBCluster": 1})
        self.assertEqual(stats["by_action"], {"DeleteDBCluster": 2, "DescribeDBClusters": 1})
        self.assertEqual(stats["strict"], {"refused": {}, "deferred_deletes": 1})

    def test_scripted_failures_in_each_service_shape(self):
        proxy, _, _ = self.own_proxy(
            "--fail-action", "ModifyInstanceAttribute::2:InvalidParameterValue",
            "--fail-action", "DeleteDBCluster:0:1:InvalidDBClusterStateFault:409",
            "--fail-action", "GET /scripted-bucket:::AccessDenied:403")
        body = b"Action=ModifyInstanceAttribute&Version=2016-11-15&InstanceId=i-1"
        status, headers, text = raw(proxy, "POST", "/", body, "ec2")
        self.assertEqual((status, headers["Content-Type"]), (400, "text/xml;charset=UTF-8"))
        self.assertRegex(text, "^" + re.escape(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
            "<Code>InvalidParameterValue</Code><Message>injected by aws_proxy</Message>"
            "</Error></Errors><RequestID>") + UUID + re.escape("</RequestID></Response>") + "$")
        # Without a credential scope, EC2 is known by its API version.
        status, _, text = raw(proxy, "POST", "/", body)
        self.assertEqual(status, 400)
        self.assertIn("<Response><Errors><Error><Code>InvalidParameterValue</Code>", text)

        status, headers, text = raw(proxy, "POST", "/", b"Action=DeleteDBCluster&"
                                    b"Version=2014-10-31&DBClusterIdentifier=nope", "rds")
        self.assertEqual((status, headers["Content-Type"]), (409, "text/xml"))
        self.assertRegex(text, "^" + re.escape(
            "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error>"
            "<Type>Sender</Type><Code>InvalidDBClusterStateFault</Code>"
            "<Message>injected by aws_proxy</Message></Error><RequestId>") + UUID
            + re.escape("</RequestId></ErrorResponse>") + "$")
        self.assertRegex(headers["x-amzn-RequestId"], UUID)

        status, headers, text = raw(proxy, "GET", "/scripted-bucket", service="s3")
        self.assertEqual((status, headers["Content-Type"]), (403, "application/xml"))
        self.assertRegex(text, "^" + re.escape(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
            "<Message>injected by aws_proxy</Message><RequestId>") + UUID
            + re.escape("</RequestId></Error>") + "$")
        self.assertRegex(headers["x-amz-request-id"], UUID)
        self.assertEqual(control(proxy, "/__proxy/stats")[1]["scripted_failures"], {
            "DeleteDBCluster": 1, "GET /scripted-bucket": 1, "ModifyInstanceAttribute": 2})

    def test_throttle_faults_keep_their_shapes(self):
        proxy, _, _ = self.own_proxy("--fault-rate", "1", "--faults", "throttle")
        status, headers, text = raw(proxy, "POST", "/", b"Action=DescribeVpcs", "ec2")
        self.assertEqual((status, headers["Content-Type"]), (503, "text/xml;charset=UTF-8"))
        self.assertRegex(text, "^" + re.escape(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
            "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
            "</Error></Errors><RequestID>") + UUID + re.escape("</RequestID></Response>") + "$")
        status, headers, text = raw(proxy, "POST", "/", b"Action=DescribeDBClusters", "rds")
        self.assertEqual((status, headers["Content-Type"]), (400, "text/xml"))
        self.assertRegex(text, "^" + re.escape(
            "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error>"
            "<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
            "</Error><RequestId>") + UUID + re.escape("</RequestId></ErrorResponse>") + "$")
        status, headers, text = raw(proxy, "GET", "/some-bucket", service="s3")
        self.assertEqual((status, headers["Content-Type"]), (503, "application/xml"))
        self.assertRegex(text, "^" + re.escape(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
            "<Message>Please reduce your request rate.</Message><RequestId>") + UUID
            + re.escape("</RequestId></Error>") + "$")
        stats = control(proxy, "/__proxy/stats")[1]
        self.assertEqual((stats["faulted"], stats["scripted_failures"]), (3, {}))

    def test_scripted_failure_stats_reset_and_replacement(self):
        proxy, ec2, _ = self.own_proxy("--fail-action", "DescribeVpcs:1:2:InvalidParameterValue",
                                       "--fail-action", "DescribeSubnets")
        ec2.describe_vpcs()
        self.assertRefused("InvalidParameterValue", ec2.describe_vpcs)
        self.assertRefused("InvalidParameterValue", ec2.describe_vpcs)
        ec2.describe_vpcs()
        self.assertRefused("InjectedFailure", ec2.describe_subnets)
        ec2.describe_subnets()
        stats = control(proxy, "/__proxy/stats")[1]
        self.assertEqual(stats["scripted_failures"], {"DescribeSubnets": 1, "DescribeVpcs": 2})
        self.assertEqual(stats["faulted_by_action"], {"DescribeSubnets": 1, "DescribeVpcs": 2})
        self.assertEqual(stats["by_action"], {"DescribeSubnets": 2, "DescribeVpcs": 4})
        self.assertEqual((stats["total"], stats["faulted"], stats["forwarded"]), (6, 3, 3))

        # A reset zeroes the counts, not the scripts' progress.
        self.assertEqual(control(proxy, "/__proxy/reset", {})[1]["scripted_failures"], {})
        ec2.describe_vpcs()
        self.assertEqual(control(proxy, "/__proxy/stats")[1]["faulted"], 0)

        # Setting fail_actions replaces the scripts and restarts them; {} clears them.
        status, config = control(proxy, "/__proxy/config",
                                 {"fail_actions": {"DescribeVpcs": {"times": 1}}})
        self.assertEqual((status, list(config["fail_actions"])), (200, ["DescribeVpcs"]))
        self.assertRefused("InjectedFailure", ec2.describe_vpcs)
        ec2.describe_vpcs()
        control(proxy, "/__proxy/config", {"fail_actions": {"DescribeVpcs": {"times": 1}}})
        self.assertRefused("InjectedFailure", ec2.describe_vpcs)
        control(proxy, "/__proxy/config", {"fail_actions": {"DescribeVpcs": {"times": 1}}})
        self.assertEqual(control(proxy, "/__proxy/config", {"fail_actions": {}})[1]
                         ["fail_actions"], {})
        ec2.describe_vpcs()
        stats = control(proxy, "/__proxy/stats")[1]
        self.assertEqual(stats["scripted_failures"], {"DescribeVpcs": 2})
        self.assertEqual((stats["total"], stats["faulted"]), (5, 2))

    def test_scripted_failures_are_thread_safe(self):
        proxy, _, _ = self.own_proxy("--fail-action", "DescribeVpcs:10:25")
        statuses = []

        def worker():
            for _ in range(10):
                statuses.append(raw(proxy, "POST", "/", b"Action=DescribeVpcs&"
                                    b"Version=2016-11-15", "ec2")[0])
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = control(proxy, "/__proxy/stats")[1]
        self.assertEqual(stats["by_action"], {"DescribeVpcs": 80})
        self.assertEqual(stats["scripted_failures"], {"DescribeVpcs": 25})
        self.assertEqual(len(statuses), 80)

    def test_fail_action_flag_is_validated(self):
        for spec in ("DescribeVpcs:-1", "DescribeVpcs:x", "DescribeVpcs:0:1.5",
                     "DescribeVpcs:0:1:Bad Code", "DescribeVpcs:0:1:Code:399",
                     "DescribeVpcs:0:1:Code:600", "DescribeVpcs:0:1:Code:400:extra", ":1"):
            result = subprocess.run([sys.executable, str(PROXY), "--upstream", self.upstream,
                                     "--fail-action", spec], capture_output=True, text=True,
                                    timeout=20)
            self.assertEqual((result.returncode, result.stdout), (2, ""), spec)
            self.assertIn("--fail-action", result.stderr, spec)
        result = subprocess.run([sys.executable, str(PROXY), "--upstream", self.upstream,
                                 "--fail-action", "DescribeVpcs", "--fail-action",
                                 "DescribeVpcs:1"], capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 2)
        self.assertIn("scripted twice", result.stderr)

    # Random faults: lost answers, the action filter

    def assertLost(self, call, *args, **kwargs):
        """The call fails the way a `lost` (or `503`) fault answers: HTTP 503, plain-text
        `Service Unavailable` (botocore's EC2 and RDS parsers cannot read it: a
        ResponseParserError)."""
        with self.assertRaises((ClientError, ResponseParserError)) as caught:
            call(*args, **kwargs)
        error = caught.exception
        if isinstance(error, ClientError):
            self.assertEqual(error.response["ResponseMetadata"]["HTTPStatusCode"], 503)
        else:
            self.assertIn("Service Unavailable", str(error))

    def tagged_vpcs(self, ec2, tag):
        return ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [tag]}])["Vpcs"]

    def test_lost_answer_the_call_still_happens(self):
        proxy, _, _ = self.own_proxy("--faults", "lost", "--fault-rate", "1",
                                     "--fault-actions", "CreateVpc")
        ec2, _ = clients(proxy, {"max_attempts": 1})  # as asked; parse errors are not retried
        tag = name("lost")
        self.assertLost(ec2.create_vpc, CidrBlock="10.0.0.0/16", TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": tag}]}])
        # The VPC exists, created once; DescribeVpcs (not listed) is never faulted.
        vpcs = self.tagged_vpcs(ec2, tag)
        self.assertEqual(len(vpcs), 1)
        for _ in range(5):
            self.assertEqual(ec2.describe_vpcs(VpcIds=[vpcs[0]["VpcId"]])["Vpcs"][0]["VpcId"],
                             vpcs[0]["VpcId"])

        # On the wire: exactly the `503` kind's answer.
        raw_tag = name("lost")
        create = ("Action=CreateVpc&Version=2016-11-15&CidrBlock=10.1.0.0/16&"
                  "TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=Name&"
                  f"TagSpecification.1.Tag.1.Value={raw_tag}").encode()
        status, headers, text = raw(proxy, "POST", "/", create, "ec2")
        lost_answer = (status, headers["Content-Type"], headers["Content-Length"], text)
        self.assertEqual(lost_answer, (503, "text/plain", "19", "Service Unavailable"))
        self.assertEqual(len(self.tagged_vpcs(self.raw_ec2, raw_tag)), 1)

        stats = control(proxy, "/__proxy/stats")[1]
        self.assertEqual(stats["lost_by_action"], {"CreateVpc": 2})
        self.assertEqual(stats["faulted_by_action"], {"CreateVpc": 2})
        self.assertEqual(stats["by_action"], {"CreateVpc": 2, "DescribeVpcs": 6})
        self.assertEqual((stats["total"], stats["faulted"], stats["forwarded"]), (8, 2, 8))
        self.assertEqual(stats["scripted_failures"], {})
        config = control(proxy, "/__proxy/config")[1]
        self.assertEqual((config["faults"], config["fault_actions"]), (["lost"], ["CreateVpc"]))

        # A `503` fault answers the same, but the call does not happen.
        self.assertEqual(control(proxy, "/__proxy/config", {"faults": "503"})[0], 200)
        other_tag = name("not-sent")
        status, headers, text = raw(proxy, "POST", "/", create.replace(
            raw_tag.encode(), other_tag.encode()), "ec2")
        self.assertEqual((status, headers["Content-Type"], headers["Content-Length"], text),
                         lost_answer)
        self.assertEqual(self.tagged_vpcs(self.raw_ec2, other_tag), [])
        stats = control(proxy, "/__proxy/stats")[1]
        self.assertEqual((stats["lost_by_action"], stats["faulted"], stats["forwarded"]),
                         ({"CreateVpc": 2}, 3, 8))
        # A reset zeroes it.
        self.assertEqual(control(proxy, "/__proxy/reset", {})[1]["lost_by_action"], {})

    def test_lost_answers_in_strict_mode_and_deferred_deletes(self):
        proxy, ec2, rds = self.own_proxy("--strict", "--slow-describes", "1", "--faults", "lost",
                                         "--fault-rate", "1",
                                         "--fault-actions", "DeleteVpc,DeleteDBCluster")
        vpc, subnets, group = self.network(self.raw_ec2)
        # Strict mode checks first: a refused request is refused, not lost.
        self.assertRefused("DependencyViolation", ec2.delete_vpc, VpcId=vpc)
        for subnet in subnets:
            self.raw_ec2.delete_subnet(SubnetId=subnet)
        self.raw_ec2.delete_security_group(GroupId=group)
        self.assertLost(ec2.delete_vpc, VpcId=vpc)
        self.assertRefused("InvalidVpcID.NotFound", self.raw_ec2.describe_vpcs, VpcIds=[vpc])

        # A deferred delete is deferred; the proxy's own answer is the one lost.
        cluster = name("db")
        self.raw_rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-postgresql",
                                       EngineVersion="15.4", MasterUsername="app",
                                       ManageMasterUserPassword=True)
        self.assertLost(rds.delete_db_cluster, DBClusterIdentifier=cluster,
                        SkipFinalSnapshot=True)
        self.assertEqual(rds.describe_db_clusters(DBClusterIdentifier=cluster)
                         ["DBClusters"][0]["Status"], "deleting")
        self.assertRefused("DBClusterNotFoundFault", self.raw_rds.describe_db_clusters,
                           DBClusterIdentifier=cluster)

        stats = control(proxy, "/__proxy/stats")[1]
        self.assertEqual(stats["strict"], {"refused": {"DependencyViolation": 1},
                                           "deferred_deletes": 1})
        self.assertEqual(stats["lost_by_action"], {"DeleteDBCluster": 1, "DeleteVpc": 1})
        self.assertEqual(stats["faulted_by_action"], {"DeleteDBCluster": 1, "DeleteVpc": 1})
        self.assertEqual(stats["by_action"], {"DeleteDBCluster": 1, "DeleteVpc": 2,
                                              "DescribeDBClusters": 1})
        # Forwarded: the lost DeleteVpc and the describe (the delete was deferred).
        self.assertEqual((stats["total"], stats["faulted"], stats["forwarded"]), (4, 2, 2))

    def test_fault_actions_draw_only_for_listed_actions(self):
        def faults(fault_actions, actions):
            state = aws_proxy.State("http://127.0.0.1:9", 0.5, ["throttle", "503", "lost"], 0.0,
                                    42, False, fault_actions=fault_actions)
            return [state.decide(action)[0] for action in actions]
        alone = faults(["CreateVpc"], ["CreateVpc"] * 40)
        self.assertTrue({"throttle", "503", "lost", None} <= set(alone), alone)
        mixed_actions = [action for _ in range(40)
                         for action in ("DescribeVpcs", "CreateVpc", "DescribeSubnets")]
        mixed = faults(["CreateVpc"], mixed_actions)
        self.assertEqual([f for f, a in zip(mixed, mixed_actions) if a == "CreateVpc"], alone)
        self.assertEqual({f for f, a in zip(mixed, mixed_actions) if a != "CreateVpc"}, {None})
        # Without a filter (or with one listing every action) the draws are as before.
        unfiltered = faults(None, mixed_actions)
        self.assertEqual(faults([], mixed_actions), unfiltered)
        self.assertEqual(faults(["CreateVpc", "DescribeVpcs", "DescribeSubnets"], mixed_actions),
                         unfiltered)
        self.assertNotEqual([f for f, a in zip(unfiltered, mixed_actions) if a == "CreateVpc"],
                            alone)

    def test_a_rate_limit_throttles_what_exceeds_each_familys_bucket_and_refills(self):
        state = aws_proxy.State("http://127.0.0.1:9", 0.0, ["throttle"], 0.0, 1, False,
                                rate_limit=5.0, burst=3.0)
        def auth(service):
            return {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261203/us-east-1/"
                                     f"{service}/aws4_request, SignedHeaders=host"}
        reads = aws_proxy.api_family("DescribeInstances", auth("ec2"))
        changes = aws_proxy.api_family("RunInstances", auth("ec2"))
        self.assertEqual((reads, changes), ("ec2:read", "ec2:change"))
        burst = [state.decide("DescribeInstances", reads)[0] for _ in range(5)]
        self.assertEqual(burst, [None, None, None, "throttle", "throttle"])
        # Another family has its own bucket.
        self.assertIsNone(state.decide("RunInstances", changes)[0])
        # At 5 per second, a token is back after a fifth of a second.
        time.sleep(0.25)
        self.assertIsNone(state.decide("DescribeInstances", reads)[0])
        self.assertEqual(state.decide("DescribeInstances", reads)[0], "throttle")
        stats = state.stats()
        self.assertEqual(stats["rate_limited_by_action"], {"DescribeInstances": 3})
        self.assertEqual(stats["faulted"], 3)
        with self.assertRaises(ValueError):
            state.configure({"rate_limit": 0})
        self.assertEqual(state.configure({"rate_limit": None})["rate_limit"], None)
        self.assertIsNone(state.decide("DescribeInstances", reads)[0])

    def test_a_fault_action_ending_in_a_star_matches_a_prefix(self):
        state = aws_proxy.State("http://127.0.0.1:9", 1.0, ["503"], 0.0, 7, False,
                                fault_actions=["PUT /bucket/records/*"])
        self.assertEqual(state.decide("PUT /bucket/records/0001-a.json")[0], "503")
        self.assertEqual(state.decide("PUT /bucket/records/0002-b.json")[0], "503")
        self.assertIsNone(state.decide("PUT /bucket/other.json")[0])
        self.assertIsNone(state.decide("GET /bucket/records/0001-a.json")[0])

    def test_requests_are_named_by_the_iam_action_they_need(self):
        def auth(service):
            return {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261203/us-east-1/"
                                     f"{service}/aws4_request, SignedHeaders=host, Signature=x"}
        self.assertEqual(aws_proxy.iam_action("POST", "/", "", {"Action": ["DescribeVpcs"]},
                                              auth("ec2")), "ec2:DescribeVpcs")
        self.assertEqual(aws_proxy.iam_action("POST", "/", "", {}, {
            **auth("logs"), "X-Amz-Target": "Logs_20140328.CreateLogGroup"}),
            "logs:CreateLogGroup")
        self.assertEqual(aws_proxy.iam_action(
            "POST", "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm", "", {},
            auth("monitoring")), "cloudwatch:PutMetricAlarm")
        self.assertEqual(aws_proxy.iam_action("PUT", "/locks/envctl-locks/p/e.json", "", {},
                                              auth("s3")), "s3:PutObject")
        self.assertEqual(aws_proxy.iam_action("PUT", "/locks", "versioning", {}, auth("s3")),
                         "s3:PutBucketVersioning")
        self.assertEqual(aws_proxy.iam_action("HEAD", "/locks", "", {}, auth("s3")),
                         "s3:ListBucket")
        self.assertEqual(aws_proxy.iam_action("GET", "/locks", "list-type=2&prefix=x", {},
                                              auth("s3")), "s3:ListBucket")

    def test_config_validates_fault_actions(self):
        proxy, _, _ = self.own_proxy()
        self.assertEqual(control(proxy, "/__proxy/config")[1]["fault_actions"], [])
        for bad in (1, True, None, {"CreateVpc": 1}, [1], [""], [" "], ["CreateVpc", None]):
            status, answer = control(proxy, "/__proxy/config", {"fault_actions": bad})
            self.assertEqual(status, 400, bad)
            self.assertIsInstance(answer.get("error"), str, bad)
        self.assertEqual(control(proxy, "/__proxy/config", {"faults": "lost,lose"})[0], 400)
        # A bad value changes nothing, not even the other settings of the same request.
        self.assertEqual(control(proxy, "/__proxy/config",
                                 {"fault_rate": 1, "fault_actions": [2]})[0], 400)
        config = control(proxy, "/__proxy/config")[1]
        self.assertEqual((config["fault_rate"], config["fault_actions"]), (0.0, []))
        for good, expected in (("CreateVpc, DescribeVpcs,,CreateVpc", ["CreateVpc",
                                                                        "DescribeVpcs"]),
                               (["PUT /bucket/key", "DeleteVpc"], ["PUT /bucket/key",
                                                                    "DeleteVpc"]),
                               ([], []), ("", [])):
            status, config = control(proxy, "/__proxy/config", {"fault_actions": good})
            self.assertEqual((status, config["fault_actions"]), (200, expected), good)
        status, config = control(proxy, "/__proxy/config", {"faults": ["lost", "503"]})
        self.assertEqual((status, config["faults"]), (200, ["lost", "503"]))
        # The flags.
        proxy, _, _ = self.own_proxy("--faults", "throttle,lost",
                                     "--fault-actions", "CreateVpc,DeleteVpc")
        config = control(proxy, "/__proxy/config")[1]
        self.assertEqual((config["faults"], config["fault_actions"]),
                         (["throttle", "lost"], ["CreateVpc", "DeleteVpc"]))
        result = subprocess.run([sys.executable, str(PROXY), "--upstream", self.upstream,
                                 "--faults", "lose"], capture_output=True, text=True, timeout=20)
        self.assertEqual((result.returncode, result.stdout), (2, ""))
        self.assertIn("faults", result.stderr)

    # Control API and parts

    def test_config_validates_the_new_settings(self):
        self.assertEqual(control(self.strict, "/__proxy/config", {"strict": "yes"})[0], 400)
        self.assertEqual(control(self.strict, "/__proxy/config", {"slow_describes": -1})[0], 400)
        self.assertEqual(control(self.strict, "/__proxy/config", {"slow_describes": True})[0],
                         400)
        for bad in ([], "DescribeVpcs", {"DescribeVpcs": 1}, {"DescribeVpcs": {"skp": 1}},
                    {"DescribeVpcs": {"skip": -1}}, {"DescribeVpcs": {"skip": 1.5}},
                    {"DescribeVpcs": {"times": "2"}}, {"DescribeVpcs": {"times": True}},
                    {"DescribeVpcs": {"status": 399}}, {"DescribeVpcs": {"status": 600}},
                    {"DescribeVpcs": {"code": ""}}, {"DescribeVpcs": {"code": "a<b"}},
                    {"DescribeVpcs": {"message": None}}, {"": {}}):
            status, answer = control(self.strict, "/__proxy/config", {"fail_actions": bad})
            self.assertEqual(status, 400, bad)
            self.assertIsInstance(answer.get("error"), str, bad)
        # A bad script changes nothing, not even the other settings of the same request.
        self.assertEqual(control(self.strict, "/__proxy/config", {
            "slow_describes": 5, "fail_actions": {"DescribeVpcs": {"status": 600}}})[0], 400)
        status, config = control(self.strict, "/__proxy/config")
        self.assertEqual((status, config["strict"], config["slow_describes"]), (200, True, SLOW))
        self.assertEqual(config["fail_actions"], {})

    def test_deferred_delete_runs_after_the_time_limit(self):
        ran = threading.Event()
        deferred = aws_proxy.Deferred(lambda record, verify: ran.set(), lambda: None)
        old, aws_proxy.DEFERRED_MAX_SECONDS = aws_proxy.DEFERRED_MAX_SECONDS, 0.2
        try:
            deferred.add(aws_proxy.DeferredDelete(("a", "r", "cluster", "c"), "cluster", "c",
                                                  "t", 5, None))
        finally:
            aws_proxy.DEFERRED_MAX_SECONDS = old
        self.assertTrue(ran.wait(5))
        self.assertEqual(deferred.records, {})
        self.assertEqual(deferred.seen(("a", "r", "cluster", "c"), "t"), (False, None))

    def test_xml_spans_find_direct_children_only(self):
        text = ("<R><instancesSet><item><instanceId>i-1</instanceId><groupSet><item>"
                "<groupId>sg-1</groupId></item></groupSet><instanceState><code>16</code>"
                "<name>running</name></instanceState></item></instancesSet></R>")
        items = aws_proxy.elements(text, ("instancesSet", "item"))
        self.assertEqual(len(items), 1)
        self.assertEqual(aws_proxy.child_text(text, items[0], "instanceId"), "i-1")
        self.assertIsNone(aws_proxy.child(text, items[0], "groupId"))
        state = aws_proxy.child(text, items[0], "instanceState")
        new = aws_proxy.replace_spans(text, [(state, aws_proxy.instance_state_xml("stopping"))])
        self.assertIn("<instanceState><code>64</code><name>stopping</name></instanceState>", new)


if __name__ == "__main__":
    unittest.main()
