"""A counting, fault-injecting HTTP proxy between an AWS SDK client (envctl) and the emulator.

What it is for: the benchmark (`scripts/bench`) counts the AWS API calls envctl makes through
it, and fault-injection tests make the "cloud" throttle, fail or slow down without touching
envctl or the emulator. Point the client at the proxy with `AWS_ENDPOINT_URL` (or
`--endpoint-url`); the proxy forwards every request to the upstream emulator unchanged (only
`Host` is rewritten to the upstream's) and relays the answer back. Python 3.11 stdlib only.
Opt-in, it also answers the way real AWS does where the emulator (moto) is lenient: see
"Strict mode" and "Slow transitions" below. With neither option on, none of that happens: every
request is forwarded as described here.

usage: aws_proxy.py --upstream http://127.0.0.1:PORT [--listen-port 0] [--fault-rate 0.0]
                    [--faults throttle,503] [--fault-actions A,B,...] [--latency-ms 0]
                    [--seed N] [--verbose] [--strict] [--slow-describes N]
                    [--fail-action SPEC ...] [--rate-limit N [--burst B]]

Once listening on 127.0.0.1 it prints exactly one line, `ready <port>`, on stdout (port 0 picks
a free port), then runs until killed. Nothing else is ever written to stdout; `--verbose` logs
one line per request on stderr (and one per strict-mode refusal, deferred delete, scripted
failure or lost answer); a deferred delete the upstream refuses is always logged on stderr.

Counting: every request is counted by its AWS action: the `Action=` parameter of a
form-encoded body or of the query string (EC2 and RDS use the query protocol), else the
operation of an `X-Amz-Target` header (JSON protocols), as `service:Operation` with the
credential scope's service (`logs:ListTagsForResource`, `ssm:ListTagsForResource`), else
`METHOD /path` (S3, REST).
Requests under `/moto-api/` (the emulator's own API, e.g. `POST /moto-api/reset`) are forwarded
but never counted, delayed nor faulted (`POST /moto-api/reset` also drops every slow
transition and deferred delete in flight, without forwarding them); `/__proxy/` is the proxy's
own control API.

Faults: with probability `fault_rate` (a seeded RNG, `--seed`) a request is faulted, with a
kind drawn uniformly from `--faults` (default `throttle,503`):
- `throttle`: the request is not forwarded; the client gets what the service answers when
  throttling. EC2 (credential scope service `ec2`, or `Version=2016-11-15`): HTTP 503
  `RequestLimitExceeded` in EC2's `<Response><Errors>` shape. RDS (scope `rds`): HTTP 400
  `Throttling` in the query protocol's `<ErrorResponse>` shape. CloudWatch Logs and SSM
  (scopes `logs`, `ssm`): HTTP 400 `ThrottlingException` as JSON. Anything else: HTTP 503
  `SlowDown` (S3's shape).
- `503`: the request is not forwarded; the client gets HTTP 503 with the plain-text body
  `Service Unavailable`.
- `lost`: the request IS forwarded (the call happens upstream), then the answer is thrown
  away and the client gets the `503` answer instead (HTTP 503, plain-text `Service
  Unavailable`), so it cannot tell whether the call happened. Everything else goes as without
  the fault: strict mode's checks come first, and a request they refuse gets its refusal (it
  is not lost, nor counted as a fault); with slow transitions the upstream's answer still
  starts transitions and due deferred deletes, and a deferred delete is deferred, the proxy's
  own answer to it being the one lost. A request the upstream cannot be reached for gets the
  usual HTTP 502 (not lost). Counted in `faulted`, `faulted_by_action` and `lost_by_action`,
  and, having reached the upstream, in `forwarded` (see the stats).
The service is read from the `Authorization` header's credential scope
(`Credential=AKID/20261128/us-east-1/ec2/aws4_request`).
Random faults (every kind) are only drawn for the actions in `--fault-actions A,B,C` (or
`{"fault_actions": [..]}`), action names as counted (e.g. `CreateVpc`, `PUT /bucket/key`, or
`PUT /bucket/prefix*` for every key under a prefix);
empty, the default, is every action. A request of an action not listed is never randomly
faulted and draws nothing from the RNG, so a seeded run's faults on the listed actions do not
depend on how many other calls are made. Scripted failures ignore the filter.

Request rate limits (`--rate-limit N [--burst B]`, or `{"rate_limit": N, "burst": B}`; off
by default): how AWS's own request limits work, a token bucket per account-agnostic API family
(the credential scope's service, and whether the action only reads - `Describe*`, `List*`,
`Get*` - or changes something), holding at most B tokens (default: N) and refilled at N per
second. A request that finds its family's bucket empty is throttled, as a `throttle` fault
(same answer, counted in `faulted` and in `rate_limited_by_action`); one that finds a token
takes it and goes on (random faults are drawn after that, as without a limit). So a client
that keeps sending at more than N per second is throttled more the faster it sends, and one
that slows down is not.

Scripted failures (`--fail-action SPEC`, repeatable, or `{"fail_actions": {...}}`): per
action, as counted (e.g. `ModifyInstanceAttribute`, `DeleteDBCluster`, `StartInstances`, or
`PUT /bucket/key`), the first `skip` requests are forwarded normally, the next `times` are not
forwarded but answered with the error `code` / `message` and HTTP `status` in the service's
shape (as for `throttle`: EC2 `<Response><Errors><Error><Code>..`, RDS `<ErrorResponse>`,
anything else S3's `<Error><Code>..`), and every later one is forwarded normally again. The
setting is an object mapping action names to scripts
`{"skip": k, "times": n, "code": "..", "status": s, "message": ".."}`, every key optional
(defaults: skip 0, times 1, code `InjectedFailure`, status 400, message `injected by
aws_proxy`; skip and times are integers >= 0, status 400..599, code letters, digits and
`._-`). The flag's SPEC is `Action[:skip[:times[:code[:status]]]]` (an empty field keeps its
default; the message is the default one; an action given twice is an error), e.g.
`--fail-action ModifyInstanceAttribute:1:1:InvalidParameterValue:400`. Setting `fail_actions`
replaces every script and restarts their counts (`{}` clears them); `/__proxy/reset` does not
restart them. Every request of a scripted action is counted towards its script when it
arrives, whatever else happens to it; a scripted failure wins over a random fault drawn for
the same request (the RNG is drawn as without scripts) and is neither checked by strict mode
nor deferred. Scripted failures are injected faults: counted in `total`, `by_action`,
`faulted` and `faulted_by_action`, and in `scripted_failures` by action.

Latency: `latency_ms` is slept before each counted request is forwarded (or faulted).

Strict mode (`--strict`, or `{"strict": true}`): before forwarding, the proxy checks some EC2
and RDS requests against the upstream's state and refuses, without forwarding, those AWS
refuses but the emulator accepts. The checks are the proxy's own requests to the upstream
(DescribeInstances, DescribeDBClusters, ... with the client's `Authorization` header, its
credential scope's service rewritten to the one asked), never counted, delayed nor faulted;
the states they see are those the client would see (slow transitions included). EC2 refusals
are HTTP 400 in EC2's `<Response><Errors>` shape, RDS ones HTTP 400 in the `<ErrorResponse>`
shape. Only requests signed for `ec2` or `rds` (credential scope) are checked:
1. EC2 `ModifyInstanceAttribute` changing the type (`InstanceType.Value`, or
   `Attribute=instanceType`) of an instance that is not `stopped` -> `IncorrectInstanceState`
   "The instance 'i-..' is not in the 'stopped' state."
1b. EC2 `StartInstances` of an instance that is `stopping`, `shutting-down` or `terminated`
   -> `IncorrectInstanceState` "The instance 'i-..' is not in a state from which it can be
   started." (the emulator restarts even terminated instances).
2. EC2 `DeleteSecurityGroup` (by `GroupId`, or `GroupName` resolved to its id) while an
   instance not `terminated`/`shutting-down` is in the group (filter `instance.group-id`), a DB
   cluster or DB instance lists it in `VpcSecurityGroups` (a deferred-deleting one included:
   it still exists upstream), or another group's ingress or egress rule names it ->
   `DependencyViolation` "resource sg-.. has a dependent object".
3. EC2 `DeleteSubnet` while an instance not `terminated` is in it, or a DB subnet group that
   contains it is used by a DB cluster (deferred-deleting ones included) ->
   `DependencyViolation` "The subnet 'subnet-..' has dependencies and cannot be deleted."
4. EC2 `DeleteVpc` while a security group other than `default`, or a subnet, is in it ->
   `DependencyViolation` "The vpc 'vpc-..' has dependencies and cannot be deleted."
5. RDS `CreateDBCluster` of an existing identifier (a deferred-deleting one included) ->
   `DBClusterAlreadyExistsFault` "DB Cluster already exists" (the emulator overwrites it);
   `CreateDBInstance` -> `DBInstanceAlreadyExists` "DB instance already exists";
   `CreateDBSubnetGroup` -> `DBSubnetGroupAlreadyExists` "The DB subnet group '..' already
   exists."
6. RDS `DeleteDBSubnetGroup` while a DB cluster (deferred-deleting ones included) or a DB
   instance uses the group -> `InvalidDBSubnetGroupStateFault` "Cannot delete the subnet group
   '..' because at least one database instance: .. is still using it."
7. RDS `DeleteDBCluster` while DB instances of the cluster remain (deferred-deleting ones
   included) -> `InvalidDBClusterStateFault` "Cluster cannot be deleted, it still contains DB
   instances in non-deleting state." (the emulator refuses too while members exist upstream;
   the proxy checks first so that, with slow transitions, such a delete is refused rather than
   deferred). Unlike AWS, members being deleted count: the cluster can be deleted once they
   are gone.
A check whose lookup the upstream cannot answer (HTTP 5xx) lets the request through; a lookup
the upstream cannot be reached for is answered HTTP 502 like any forward.

Slow transitions (`--slow-describes N`, or `{"slow_describes": N}`; 0, the default, is off):
the emulator finishes every change at once, AWS takes a while. Per resource, the proxy shows
the in-between status of a change for the next N describes the client makes that list that
resource (one describe call listing several resources counts once for each; describes of a
resource by other access keys of the same account count too). Only DescribeInstances,
DescribeDBClusters and DescribeDBInstances answers are rewritten, in place, in the resource's
block (`<instanceState><code>..</code><name>..</name></instanceState>` of the instance's
`<item>` in `<instancesSet>`, `<Status>` of a `<DBCluster>`, `<DBInstanceStatus>` of a
`<DBInstance>`); everything else is the upstream's.
a. EC2: after `RunInstances` and `StartInstances` an instance reads `pending` (code 0), after
   `StopInstances` `stopping` (64), after `TerminateInstances` `shutting-down` (32) - each
   only if the call's own answer said so, and only while the upstream says the end state
   (`running`, `stopped`, `terminated`); so with `--strict` a type change or a start during a
   `stopping` window is refused (rules 1, 1b). Describe filters are the upstream's, on its own
   state: e.g. `instance-state-name=shutting-down` does not list an instance shown
   `shutting-down`, and one excluding `terminated` drops it.
b. RDS: after `CreateDBCluster` a cluster reads `creating`, after `ModifyDBCluster`
   `modifying`; after `CreateDBInstance` a DB instance reads `creating`, after
   `ModifyDBInstance` `modifying` - while the upstream says `available`.
c. `DeleteDBCluster` and `DeleteDBInstance` are deferred: the proxy answers them itself (HTTP
   200, `<DeleteDBClusterResponse><DeleteDBClusterResult><DBCluster>..` resp.
   `<DeleteDBInstanceResponse><DeleteDBInstanceResult><DBInstance>..`, the resource as the
   upstream describes it with its status `deleting`), shows it `deleting` for the next N
   describes listing it, and only then - right after answering the N-th such describe's
   upstream call, before relaying it - forwards the client's own request (same parameters,
   e.g. `FinalDBSnapshotIdentifier`, `SkipFinalSnapshot`) to the upstream; at the latest 30 s
   after the client's delete, even if nobody looks. Until then the resource exists upstream:
   with `--strict`, creating it again (5), deleting its subnet group (6) or security group (2)
   is refused. A delete the upstream would refuse is refused instead of deferred:
   `InvalidParameterCombination` "Cannot delete protected Cluster, please disable deletion
   protection and try again." (resp. "..protected DB Instance..") while DeletionProtection is
   on; `InvalidDBClusterStateFault` as in rule 7 while the cluster has members (deferred
   deleting ones included); `DBClusterSnapshotAlreadyExistsFault` /
   `DBSnapshotAlreadyExists` when the final snapshot exists; deleting a resource already being
   deleted -> `InvalidDBClusterStateFault` "DB cluster .. is already being deleted." /
   `InvalidDBInstanceState` "DB instance .. is already being deleted.". A delete of a resource
   the upstream does not know is forwarded (the client gets the upstream's not-found).
The proxy's records are per account (the upstream's STS GetCallerIdentity for the access key,
looked up once) and region (credential scope), by resource id (RDS ids lowercased); an RDS one
is tied to the resource's create time, so an identifier reused after an emulator reset is not
mistaken for the old resource. Setting `slow_describes` to 0 forwards every deferred delete at
once and ends every transition.

Control API (never counted, delayed nor faulted):
- `GET  /__proxy/stats`  -> `{"total": n, "forwarded": n, "faulted": n, "upstream_errors": n,
  "by_action": {"DescribeVpcs": 3, ...}, "faulted_by_action": {...}, "first_request_at": t,
  "last_response_at": t, "strict": {"refused": {"IncorrectInstanceState": n, ...},
  "deferred_deletes": n}, "scripted_failures": {"ModifyInstanceAttribute": n, ...},
  "lost_by_action": {"CreateVpc": n, ...}, "iam_actions": {"ec2:DescribeVpcs": n, ...}}`.
  `iam_actions` names each request by the IAM action it needs (the service's IAM prefix and
  the operation; S3 requests by method and path shape: `s3:PutObject`, `s3:ListBucket`...).
  `total` counts every request the proxy answered except control and `/moto-api/` ones,
  `faulted` the injected faults among them (scripted failures and lost answers included),
  `forwarded` the rest less those the proxy answered itself (strict-mode refusals and deferred
  deletes), plus the lost answers (their requests were forwarded, or deferred),
  `upstream_errors` those the upstream could not answer (the client got HTTP 502; they count
  as forwarded),
  `by_action` every counted request (forwarded, faulted or answered by the proxy) by action,
  `faulted_by_action` only the faulted ones; the two times (Unix seconds, null before the
  first request) are when the first counted request arrived and the last one was answered, so
  a client's wall time can be split into its own work before, during and after its calls.
  `strict.refused` counts the requests the proxy refused (strict-mode rules and refused
  deferrals) by error code, `strict.deferred_deletes` the deletes it answered and deferred;
  both are always present (`{}` and 0 when unused). `scripted_failures` counts, by action, the
  requests answered with a scripted failure (always present, `{}` when unused),
  `lost_by_action` by action the requests whose answer was lost (`lost` faults; always
  present, `{}` when unused). The proxy's own lookups and deferred deletes are never counted
  anywhere.
- `POST /__proxy/reset`  -> zeroes the counters (the settings, the scripted failures' progress,
  transitions and deferred deletes stay).
- `GET  /__proxy/config` -> the current settings (`fail_actions` with every script's five keys
  filled in).
- `POST /__proxy/config` with a JSON object of any of `fault_rate` (0..1), `latency_ms` (>= 0),
  `faults` (list or comma-separated string of `throttle`, `503`, `lost`), `fault_actions`
  (list of non-empty action names, or a comma-separated string of them; `[]` or `""`: every
  action; see "Faults"), `seed` (re-seeds the RNG),
  `strict` (true/false), `slow_describes` (integer >= 0), `fail_actions` (see "Scripted
  failures") -> the new settings; HTTP 400 with `{"error": ...}` on a bad value (an unknown
  key in a script, a non-integer or negative skip/times, a status outside 400..599, ...), in
  which case nothing changes.
"""
import argparse
import html
import http.client
import json
import random
import re
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ElementTree
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from xml.sax.saxutils import escape

FAULT_KINDS = ("throttle", "503", "lost")
EC2_API_VERSION = "2016-11-15"
RDS_API_VERSION = "2014-10-31"
API_VERSIONS = {"ec2": EC2_API_VERSION, "rds": RDS_API_VERSION, "sts": "2011-06-15"}
RDS_NAMESPACE = "http://rds.amazonaws.com/doc/2014-10-31/"
# Headers that describe one connection, not the message: never relayed either way.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade",
}
# The client's headers an internal lookup reuses (the upstream picks account and region by them).
CREDENTIAL_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token", "x-moto-account-id")
DEFERRED_MAX_SECONDS = 30.0
INSTANCE_STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
                        "stopping": 64, "stopped": 80}
# An instance's in-between state -> the state the upstream reports once it is over.
INSTANCE_TRANSITIONS = {"pending": "running", "stopping": "stopped",
                        "shutting-down": "terminated"}


class State:
    """The proxy's settings and counters, shared by every handler thread."""

    def __init__(self, upstream, fault_rate, faults, latency_ms, seed, verbose,
                 strict=False, slow_describes=0, fail_actions=None, fault_actions=None,
                 rate_limit=None, burst=None):
        self.upstream = upstream
        self.link = Upstream(upstream)
        self.fault_rate = fault_rate
        self.faults = faults
        self.fault_actions = fault_actions or []  # random faults only for these; [] = all
        self.latency_ms = latency_ms
        self.seed = seed
        self.verbose = verbose
        self.strict = strict
        self.slow_describes = slow_describes
        self.fail_actions = fail_actions or {}  # action -> FailScript
        self.fail_seen = {}  # action -> requests of it counted since its script was set
        self.rng = random.Random(seed)
        self.rate_limit = rate_limit  # requests per second per API family; None = off
        self.burst = burst
        self.buckets = {}  # family -> (tokens, last refill time)
        self.lock = threading.Lock()
        self.emulation = Emulation(self)
        self.reset()

    def reset(self):
        with self.lock:
            self.total = 0
            self.faulted = 0
            self.upstream_errors = 0
            self.by_action = {}
            self.faulted_by_action = {}
            self.first_request_at = None
            self.last_response_at = None
            self.refused = {}
            self.deferred_deletes = 0
            self.scripted_failures = {}
            self.lost_by_action = {}
            self.iam_actions = {}
            self.rate_limited_by_action = {}
            self.buckets = {}

    def count_iam(self, iam_action):
        """Counts the IAM action a request needs (`ec2:DescribeVpcs`, `s3:PutObject`)."""
        if iam_action:
            with self.lock:
                self.iam_actions[iam_action] = self.iam_actions.get(iam_action, 0) + 1

    def stats(self):
        with self.lock:
            answered_here = sum(self.refused.values()) + self.deferred_deletes
            return {
                "total": self.total,
                # A lost answer's request was forwarded (or deferred: answered here).
                "forwarded": (self.total - self.faulted + sum(self.lost_by_action.values())
                              - answered_here),
                "faulted": self.faulted,
                "upstream_errors": self.upstream_errors,
                "by_action": dict(sorted(self.by_action.items())),
                "faulted_by_action": dict(sorted(self.faulted_by_action.items())),
                "first_request_at": self.first_request_at,
                "last_response_at": self.last_response_at,
                "strict": {"refused": dict(sorted(self.refused.items())),
                           "deferred_deletes": self.deferred_deletes},
                "scripted_failures": dict(sorted(self.scripted_failures.items())),
                "lost_by_action": dict(sorted(self.lost_by_action.items())),
                "iam_actions": dict(sorted(self.iam_actions.items())),
                "rate_limited_by_action": dict(sorted(self.rate_limited_by_action.items())),
            }

    def config(self):
        with self.lock:
            return {"upstream": self.upstream, "fault_rate": self.fault_rate,
                    "faults": list(self.faults), "fault_actions": list(self.fault_actions),
                    "latency_ms": self.latency_ms,
                    "seed": self.seed, "strict": self.strict,
                    "slow_describes": self.slow_describes,
                    "rate_limit": self.rate_limit, "burst": self.burst,
                    "fail_actions": {action: script._asdict() for action, script
                                     in sorted(self.fail_actions.items())}}

    def configure(self, changes):
        """Validates every change first, then applies them all at once."""
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object")
        unknown = set(changes) - {"fault_rate", "latency_ms", "faults", "fault_actions", "seed",
                                  "strict", "slow_describes", "fail_actions", "rate_limit",
                                  "burst"}
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        new = {}
        if "fault_rate" in changes:
            new["fault_rate"] = parse_rate(changes["fault_rate"])
        if "latency_ms" in changes:
            new["latency_ms"] = parse_latency(changes["latency_ms"])
        if "faults" in changes:
            new["faults"] = parse_faults(changes["faults"])
        if "fault_actions" in changes:
            new["fault_actions"] = parse_fault_actions(changes["fault_actions"])
        if "seed" in changes:
            if changes["seed"] is not None and not isinstance(changes["seed"], int):
                raise ValueError("seed must be an integer or null")
            new["seed"] = changes["seed"]
        if "strict" in changes:
            if not isinstance(changes["strict"], bool):
                raise ValueError("strict must be true or false")
            new["strict"] = changes["strict"]
        if "slow_describes" in changes:
            new["slow_describes"] = parse_slow_describes(changes["slow_describes"])
        if "fail_actions" in changes:
            new["fail_actions"] = parse_fail_actions(changes["fail_actions"])
        if "rate_limit" in changes:
            new["rate_limit"] = parse_rate_limit(changes["rate_limit"])
        if "burst" in changes:
            new["burst"] = parse_rate_limit(changes["burst"])
        with self.lock:
            if "rate_limit" in new or "burst" in new:
                self.buckets = {}
            for key, value in new.items():
                setattr(self, key, value)
            if "seed" in new:
                self.rng = random.Random(new["seed"])
            if "fail_actions" in new:
                self.fail_seen = {}
        if new.get("slow_describes") == 0:
            self.emulation.end_slow_transitions()
        return self.config()

    def emulating(self):
        """Whether strict mode or slow transitions are on (else requests are just forwarded)."""
        with self.lock:
            return self.strict or self.slow_describes > 0

    def modes(self):
        with self.lock:
            return self.strict, self.slow_describes

    def take_token(self, family, now):
        """Whether `family`'s bucket has a token (taken), refilling it first. Under the lock."""
        capacity = self.burst if self.burst is not None else self.rate_limit
        tokens, last = self.buckets.get(family, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * self.rate_limit)
        if tokens >= 1:
            self.buckets[family] = (tokens - 1, now)
            return True
        self.buckets[family] = (tokens, now)
        return False

    def decide(self, action, family=None):
        """Counts one request; returns the fault to inject (a fault kind, or the FailScript
        whose error to answer), or None to forward it. A `lost` fault is not counted here but
        by `count_lost`, once the answer it throws away is there."""
        with self.lock:
            if self.first_request_at is None:
                self.first_request_at = time.time()
            self.total += 1
            self.by_action[action] = self.by_action.get(action, 0) + 1
            fault = None
            if self.rate_limit is not None and not self.take_token(family, time.monotonic()):
                fault = "throttle"
                self.rate_limited_by_action[action] = (
                    self.rate_limited_by_action.get(action, 0) + 1)
            elif (self.fault_rate > 0
                    and (not self.fault_actions or matches_any(action, self.fault_actions))
                    and self.rng.random() < self.fault_rate):
                fault = self.faults[self.rng.randrange(len(self.faults))]
            script = self.fail_actions.get(action)
            if script is not None:
                seen = self.fail_seen.get(action, 0)
                self.fail_seen[action] = seen + 1
                if script.skip <= seen < script.skip + script.times:
                    fault = script  # wins over a random fault drawn for the same request
                    self.scripted_failures[action] = self.scripted_failures.get(action, 0) + 1
            if fault is not None and fault != "lost":
                self.faulted += 1
                self.faulted_by_action[action] = self.faulted_by_action.get(action, 0) + 1
            return fault, self.latency_ms

    def count_lost(self, action):
        """Counts a `lost` fault whose answer was thrown away."""
        with self.lock:
            self.faulted += 1
            self.faulted_by_action[action] = self.faulted_by_action.get(action, 0) + 1
            self.lost_by_action[action] = self.lost_by_action.get(action, 0) + 1

    def answered(self):
        """Notes the time a counted request was answered."""
        with self.lock:
            self.last_response_at = time.time()

    def upstream_failed(self):
        with self.lock:
            self.upstream_errors += 1

    def count_refusal(self, code):
        with self.lock:
            self.refused[code] = self.refused.get(code, 0) + 1

    def count_deferred_delete(self):
        with self.lock:
            self.deferred_deletes += 1

    def log(self, message, always=False):
        if always or self.verbose:
            sys.stderr.write(f"aws_proxy: {message}\n")


def parse_rate(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError("fault_rate must be a number from 0 to 1")
    return float(value)


def parse_latency(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError("latency_ms must be a number >= 0")
    return float(value)


def parse_faults(value):
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("faults must be a list or a comma-separated string")
    kinds = [str(k).strip() for k in items if str(k).strip()]
    bad = [k for k in kinds if k not in FAULT_KINDS]
    if bad or not kinds:
        raise ValueError(f"faults must be some of {list(FAULT_KINDS)}, got {items!r}")
    return kinds


def matches_any(action, patterns):
    """Whether `action` is one of `patterns`; a pattern ending in `*` matches every action
    that starts with what precedes it (`PUT /bucket/prefix/*`: any key under the prefix)."""
    return any(action == p or (p.endswith("*") and action.startswith(p[:-1])) for p in patterns)


def parse_fault_actions(value):
    """The `fault_actions` setting (a list of action names, or a comma-separated string of
    them; empty: every action) -> a list without duplicates."""
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
    elif isinstance(value, list):
        if not all(isinstance(item, str) and item.strip() for item in value):
            raise ValueError(f"fault_actions must be non-empty action names, got {value!r}")
        items = [item.strip() for item in value]
    else:
        raise ValueError("fault_actions must be a list or a comma-separated string of action "
                         "names")
    return list(dict.fromkeys(items))


def parse_rate_limit(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError("rate_limit and burst must be numbers > 0 (or null: off)")
    return float(value)


def api_family(action, headers):
    """The bucket a request draws from: its service and whether it only reads."""
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", headers.get("Authorization", ""))
    service = scope.group(1) if scope else "unknown"
    operation = action.split(":", 1)[-1]
    reads = operation.startswith(("Describe", "List", "Get", "GET ", "HEAD "))
    return f"{service}:{'read' if reads else 'change'}"


def parse_slow_describes(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("slow_describes must be an integer >= 0")
    return value


class FailScript(NamedTuple):
    """A scripted failure: after `skip` requests of an action, `times` are answered with this
    error instead of being forwarded."""
    skip: int = 0
    times: int = 1
    code: str = "InjectedFailure"
    status: int = 400
    message: str = "injected by aws_proxy"


FAIL_SCRIPT_DEFAULTS = FailScript()
ERROR_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def parse_fail_script(action, script):
    """One `fail_actions` entry (`{"skip": k, "times": n, "code": .., "status": .., "message":
    ..}`, every key optional) -> a FailScript; raises ValueError."""
    where = f"fail_actions[{action!r}]"
    if not isinstance(action, str) or not action.strip():
        raise ValueError("fail_actions keys must be non-empty action names")
    if not isinstance(script, dict):
        raise ValueError(f"{where} must be an object")
    unknown = set(script) - set(FAIL_SCRIPT_DEFAULTS._fields)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}, expected some of "
                         f"{list(FAIL_SCRIPT_DEFAULTS._fields)}")
    for key in ("skip", "times"):
        value = script.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where}.{key} must be an integer >= 0, got {value!r}")
    status = script.get("status", FAIL_SCRIPT_DEFAULTS.status)
    if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
        raise ValueError(f"{where}.status must be an integer from 400 to 599, got {status!r}")
    code = script.get("code", FAIL_SCRIPT_DEFAULTS.code)
    if not isinstance(code, str) or not ERROR_CODE.match(code):
        raise ValueError(f"{where}.code must be an error code (letters, digits, '._-'), "
                         f"got {code!r}")
    message = script.get("message", FAIL_SCRIPT_DEFAULTS.message)
    if not isinstance(message, str):
        raise ValueError(f"{where}.message must be a string, got {message!r}")
    return FailScript(script.get("skip", FAIL_SCRIPT_DEFAULTS.skip),
                      script.get("times", FAIL_SCRIPT_DEFAULTS.times), code, status, message)


def parse_fail_actions(value):
    """The `fail_actions` setting (an object: action -> script) -> {action: FailScript}."""
    if not isinstance(value, dict):
        raise ValueError("fail_actions must be an object mapping action names to scripts")
    return {action: parse_fail_script(action, script) for action, script in value.items()}


def parse_fail_action_spec(spec):
    """`--fail-action Action[:skip[:times[:code[:status]]]]` -> (action, script object); an
    empty field keeps its default."""
    fields = spec.split(":")
    if len(fields) > 5:
        raise ValueError(f"--fail-action {spec!r}: expected Action[:skip[:times[:code[:status]]]]")
    action, script = fields[0], {}
    for key, field in zip(("skip", "times", "code", "status"), fields[1:]):
        if field == "":
            continue
        if key == "code":
            script[key] = field
            continue
        try:
            script[key] = int(field)
        except ValueError:
            raise ValueError(f"--fail-action {spec!r}: {key} must be an integer, "
                             f"got {field!r}") from None
    try:
        parse_fail_script(action, script)
    except ValueError as error:
        raise ValueError(f"--fail-action {spec!r}: {error}") from None
    return action, script


def credential_scope(authorization):
    """The parts of a SigV4 credential (`Credential=AKID/date/region/service/aws4_request`)."""
    marker = "Credential="
    start = (authorization or "").find(marker)
    if start < 0:
        return None
    scope = authorization[start + len(marker):].split(",", 1)[0].strip().split("/")
    return scope if len(scope) >= 5 else None


# The IAM prefix of services whose SigV4 signing name is another.
IAM_PREFIX = {"monitoring": "cloudwatch", "tagging": "tag"}


def iam_action(method, path, query, params, headers):
    """The IAM action a request needs: `PREFIX:Operation`, S3 by method and path shape;
    None when it cannot be told."""
    service = credential_service(headers.get("Authorization"))
    if service == "s3":
        return s3_iam_action(method, path, query)
    action = (params.get("Action") or [None])[0]
    target = headers.get("X-Amz-Target")
    if action:
        name = action
    elif target:
        name = target.rsplit(".", 1)[-1]
    else:  # Smithy RPC v2 CBOR: POST /service/NAME/operation/OPERATION
        match = re.search(r"/operation/([A-Za-z0-9]+)$", path)
        name = match.group(1) if match else None
    if not name or not service:
        return None
    return f"{IAM_PREFIX.get(service, service)}:{name}"


def s3_iam_action(method, path, query):
    """The IAM action of a path-style S3 request."""
    parts = [part for part in path.split("/") if part]
    sub = {item.split("=", 1)[0] for item in query.split("&") if item}
    if len(parts) >= 2:
        return {"PUT": "s3:PutObject", "GET": "s3:GetObject", "HEAD": "s3:GetObject",
                "DELETE": "s3:DeleteObject"}.get(method)
    if method == "PUT":
        for key, name in (("versioning", "s3:PutBucketVersioning"),
                          ("publicAccessBlock", "s3:PutBucketPublicAccessBlock"),
                          ("tagging", "s3:PutBucketTagging"),
                          ("encryption", "s3:PutEncryptionConfiguration")):
            if key in sub:
                return name
        return "s3:CreateBucket"
    if method == "GET":
        if "location" in sub:
            return "s3:GetBucketLocation"
        if "versioning" in sub:
            return "s3:GetBucketVersioning"
        return "s3:ListBucket"
    if method == "HEAD":
        return "s3:ListBucket"
    if method == "DELETE":
        return "s3:DeleteBucket"
    return None


def credential_service(authorization):
    """The service of a SigV4 credential scope (`Credential=AKID/date/region/SERVICE/...`)."""
    scope = credential_scope(authorization)
    return scope[3].lower() if scope else None


def with_service(authorization, service):
    """The same `Authorization` header with its credential scope's service replaced."""
    return re.sub(r"(Credential=[^/,]+/[^/,]+/[^/,]+/)[^/,]+/", lambda m: m.group(1) + service
                  + "/", authorization, count=1)


def form_params(content_type, body, query):
    """The query-protocol parameters of a request: its query string plus a form body."""
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    if body and "application/x-www-form-urlencoded" in (content_type or "").lower():
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        for key, values in urllib.parse.parse_qs(text, keep_blank_values=True).items():
            params.setdefault(key, []).extend(values)
    return params


# --- The upstream connection ------------------------------------------------------------------

class UpstreamError(Exception):
    """The upstream could not be reached or did not answer."""


class Upstream:
    """Requests to the upstream, on one keep-alive connection per thread."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.hostname, self.port, self.netloc = parts.hostname, parts.port or 80, parts.netloc
        self.local = threading.local()

    def connection(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.hostname, self.port, timeout=300)
            self.local.conn = conn
        return conn

    def close(self):
        """Closes this thread's connection (a new one is opened when needed)."""
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()
            self.local.conn = None

    def exchange(self, method, target, headers, body):
        """Sends one request; returns `(status, reason, headers, payload)`. A kept-alive
        connection that went stale is retried once on a fresh one; raises UpstreamError."""
        for attempt in range(2):
            conn = self.connection()
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders(body or None)
                response = conn.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                self.close()
                if attempt == 1:
                    raise UpstreamError("the upstream closed the connection")
                continue
            except (OSError, http.client.HTTPException) as error:
                self.close()
                raise UpstreamError(str(error))
            if response.will_close:
                self.close()
            return response.status, response.reason, response.getheaders(), payload


# --- XML: reading lookups (ElementTree) and rewriting answers in place (spans) -------------------

def parse_xml(text):
    """An XML document with namespaces stripped from its tags, or None if it is not XML."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return root


def texts(element, path):
    return [(e.text or "").strip() for e in element.findall(path)]


TAG = re.compile(r"<(/?)([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)"
                 r"((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(/?)>")


class Span(NamedTuple):
    """An element in an XML text: its whole extent and the extent of its content."""
    start: int
    end: int
    inner_start: int
    inner_end: int


def local_name(name):
    return name.rsplit(":", 1)[-1]


def elements(text, path):
    """The spans of the elements whose last ancestors and own name are `path` (local names)."""
    found, stack = [], []  # stack: (name, start, inner_start) of the open elements

    def matches(name):
        return tuple([n for n, _, _ in stack] + [name])[-len(path):] == path

    for match in TAG.finditer(text):
        closing, name, _, self_closing = match.groups()
        name = local_name(name)
        if self_closing:
            if matches(name):
                found.append(Span(match.start(), match.end(), match.end(), match.end()))
        elif not closing:
            stack.append((name, match.start(), match.end()))
        else:
            while stack:
                open_name, start, inner_start = stack.pop()
                if open_name == name:
                    if matches(name):
                        found.append(Span(start, match.end(), inner_start, match.start()))
                    break
    return sorted(found)


def child(text, span, name):
    """The span of the first direct child element `name` of the element at `span`, or None."""
    depth, opened = 0, None
    for match in TAG.finditer(text, span.inner_start, span.inner_end):
        closing, tag, _, self_closing = match.groups()
        tag = local_name(tag)
        if self_closing:
            if depth == 0 and tag == name:
                return Span(match.start(), match.end(), match.end(), match.end())
        elif not closing:
            if depth == 0:
                opened = (tag, match.start(), match.end())
            depth += 1
        else:
            depth -= 1
            if depth == 0 and opened and opened[0] == name:
                return Span(opened[1], match.end(), opened[2], match.start())
    return None


def child_text(text, span, name):
    found = child(text, span, name)
    return None if found is None else html.unescape(text[found.inner_start:found.inner_end]).strip()


def replace_spans(text, replacements):
    """`text` with each `(span, new_text)` put in place of the span's whole element."""
    for span, new in sorted(replacements, key=lambda r: r[0].start, reverse=True):
        text = text[:span.start] + new + text[span.end:]
    return text


def instance_state_xml(name):
    return (f"<instanceState><code>{INSTANCE_STATE_CODES[name]}</code><name>{name}</name>"
            "</instanceState>")


# --- Answers the proxy makes itself ----------------------------------------------------------

class Answer(NamedTuple):
    status: int
    body: bytes
    content_type: str
    headers: tuple = ()


class Refusal(NamedTuple):
    """An error answer the proxy gives instead of forwarding."""
    service: str
    code: str
    message: str
    status: int = 400

    def answer(self):
        return error_answer(self.service, self.code, self.message, self.status)


def error_answer(service, code, message, status):
    """An error answer in the service's shape: EC2's `<Response><Errors>`, RDS's and
    CloudWatch's (the query protocol's) `<ErrorResponse>`, CloudWatch Logs', SSM's and the tagging API's JSON `{"__type", "message"}`,
    anything else S3's `<Error>`."""
    request_id = str(uuid.uuid4())
    if service == "ec2":
        return Answer(status, ec2_error_xml(code, message, request_id).encode(),
                      "text/xml;charset=UTF-8")
    if service in QUERY_PROTOCOL_SERVICES:
        return Answer(status, rds_error_xml(code, message, request_id).encode(), "text/xml",
                      (("x-amzn-RequestId", request_id),))
    if service in JSON_PROTOCOL_SERVICES:
        body = json.dumps({"__type": code, "message": message}).encode()
        return Answer(status, body, "application/x-amz-json-1.1",
                      (("x-amzn-RequestId", request_id),))
    return Answer(status, s3_error_xml(code, message, request_id).encode(), "application/xml",
                  (("x-amz-request-id", request_id),))


def ec2_error_xml(code, message, request_id):
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
            f"<Code>{code}</Code><Message>{escape(message)}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>")


def rds_error_xml(code, message, request_id):
    return (f"<ErrorResponse xmlns=\"{RDS_NAMESPACE}\"><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>")


def s3_error_xml(code, message, request_id):
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>")


# The services whose errors are JSON (the awsJson protocols), by credential scope.
JSON_PROTOCOL_SERVICES = ("logs", "ssm", "tagging")
# The services whose errors are the query protocol's `<ErrorResponse>` (CloudWatch's scope is
# `monitoring`).
QUERY_PROTOCOL_SERVICES = ("rds", "monitoring")

# The answer to a `throttle` fault, by service (see error_answer).
THROTTLE_ERRORS = {
    "ec2": ("RequestLimitExceeded", "Request limit exceeded.", 503),
    "rds": ("Throttling", "Rate exceeded", 400),
    "monitoring": ("Throttling", "Rate exceeded", 400),
    "logs": ("ThrottlingException", "Rate exceeded", 400),
    "ssm": ("ThrottlingException", "Rate exceeded", 400),
    "tagging": ("ThrottledException", "Rate exceeded", 400),
    None: ("SlowDown", "Please reduce your request rate.", 503),
}


def rds_result_answer(action, block):
    """A successful RDS answer `<{action}Response><{action}Result>block</..>` as the upstream's."""
    request_id = str(uuid.uuid4())
    body = (f"<{action}Response xmlns=\"{RDS_NAMESPACE}\"><{action}Result>{block}</{action}Result>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            f"</{action}Response>")
    return Answer(200, body.encode(), "text/xml", (("x-amzn-RequestId", request_id),))


# --- Internal lookups --------------------------------------------------------------------------

class LookupFailed(Exception):
    """The upstream answered a lookup with a server error (the check is skipped)."""


class Reply(NamedTuple):
    status: int
    text: str
    root: object  # the parsed document (namespaces stripped), or None

    @property
    def ok(self):
        return 200 <= self.status < 300


class Cloud:
    """The proxy's own requests to the upstream, as the client (its credential headers)."""

    def __init__(self, link, headers):
        self.link = link
        self.headers = [(k, v) for k, v in headers if k.lower() in CREDENTIAL_HEADERS]
        self.authorization = next((v for k, v in self.headers if k.lower() == "authorization"),
                                  "")

    def call(self, service, action, params=()):
        body = urllib.parse.urlencode([("Action", action), ("Version", API_VERSIONS[service])]
                                      + list(dict(params).items())).encode()
        headers = [(k, v) for k, v in self.headers if k.lower() != "authorization"]
        headers += [("Authorization", with_service(self.authorization, service)),
                    ("Host", self.link.netloc),
                    ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                    ("Content-Length", str(len(body)))]
        status, _, _, payload = self.link.exchange("POST", "/", headers, body)
        if status >= 500:
            raise LookupFailed(f"{service} {action} answered HTTP {status}")
        text = payload.decode("utf-8", "replace")
        return Reply(status, text, parse_xml(text))

    # EC2

    def instances(self, params):
        """`{id, state, subnet, groups}` of the instances DescribeInstances lists."""
        reply = self.call("ec2", "DescribeInstances", params)
        if not reply.ok or reply.root is None:
            return []
        return [{"id": item.findtext("instanceId"), "state": item.findtext("instanceState/name"),
                 "subnet": item.findtext("subnetId"),
                 "groups": set(texts(item, "groupSet/item/groupId"))
                 | set(texts(item, "networkInterfaceSet/item/groupSet/item/groupId"))}
                for item in reply.root.iterfind(".//instancesSet/item")]

    def security_groups(self, params=()):
        """`{id, name, vpc, references}` (group ids its rules name) of DescribeSecurityGroups."""
        reply = self.call("ec2", "DescribeSecurityGroups", params)
        if not reply.ok or reply.root is None:
            return []
        return [{"id": item.findtext("groupId"), "name": item.findtext("groupName"),
                 "vpc": item.findtext("vpcId"),
                 "references": set(texts(item, "ipPermissions/item/groups/item/groupId"))
                 | set(texts(item, "ipPermissionsEgress/item/groups/item/groupId"))}
                for item in reply.root.iterfind(".//securityGroupInfo/item")]

    def subnets(self, params):
        reply = self.call("ec2", "DescribeSubnets", params)
        if not reply.ok or reply.root is None:
            return []
        return [item.findtext("subnetId") for item in reply.root.iterfind(".//subnetSet/item")]

    # RDS

    def db_clusters(self, identifier=None):
        """`{id, status, members, groups, subnet_group, protected, created}` of the clusters,
        and the answer's text (for its blocks)."""
        reply = self.call("rds", "DescribeDBClusters",
                          {"DBClusterIdentifier": identifier} if identifier else {})
        if not reply.ok or reply.root is None:
            return [], reply.text
        return [{"id": rds_id(c.findtext("DBClusterIdentifier")), "status": c.findtext("Status"),
                 "members": [rds_id(m) for m in
                             texts(c, "DBClusterMembers/DBClusterMember/DBInstanceIdentifier")],
                 "groups": set(texts(c, "VpcSecurityGroups/VpcSecurityGroupMembership/"
                                        "VpcSecurityGroupId")),
                 "subnet_group": rds_id(c.findtext("DBSubnetGroup")),
                 "protected": c.findtext("DeletionProtection") == "true",
                 "created": c.findtext("ClusterCreateTime")}
                for c in reply.root.iterfind(".//DBClusters/DBCluster")], reply.text

    def db_instances(self, identifier=None):
        """`{id, cluster, groups, subnet_group, protected, created}` of the DB instances, and
        the answer's text."""
        reply = self.call("rds", "DescribeDBInstances",
                          {"DBInstanceIdentifier": identifier} if identifier else {})
        if not reply.ok or reply.root is None:
            return [], reply.text
        return [{"id": rds_id(d.findtext("DBInstanceIdentifier")),
                 "cluster": rds_id(d.findtext("DBClusterIdentifier")),
                 "groups": set(texts(d, "VpcSecurityGroups/VpcSecurityGroupMembership/"
                                        "VpcSecurityGroupId")),
                 "subnet_group": rds_id(d.findtext("DBSubnetGroup/DBSubnetGroupName")),
                 "protected": d.findtext("DeletionProtection") == "true",
                 "created": d.findtext("InstanceCreateTime")}
                for d in reply.root.iterfind(".//DBInstances/DBInstance")], reply.text

    def db_subnet_groups(self, name=None):
        """`{name, subnets}` of the DB subnet groups."""
        reply = self.call("rds", "DescribeDBSubnetGroups",
                          {"DBSubnetGroupName": name} if name else {})
        if not reply.ok or reply.root is None:
            return []
        return [{"name": rds_id(g.findtext("DBSubnetGroupName")),
                 "subnets": set(texts(g, "Subnets/Subnet/SubnetIdentifier"))}
                for g in reply.root.iterfind(".//DBSubnetGroups/DBSubnetGroup")]

    def exists(self, action, parameter, identifier, tag):
        """Whether an RDS describe by one identifier lists a `tag` element (a snapshot, ...)."""
        reply = self.call("rds", action, {parameter: identifier})
        return reply.ok and reply.root is not None and reply.root.find(f".//{tag}") is not None


def rds_id(value):
    return value.strip().lower() if value else value


# --- Slow transitions and deferred deletes ---------------------------------------------------

class Transitions:
    """Per-resource countdowns: the in-between status to show for the next describes.

    A key is `(account, region, kind, id)`, kind `instance`, `cluster` or `db-instance`. An entry
    holds the status to show, the status the upstream must report for it to apply (the
    transition's end: otherwise it is over, e.g. changed behind the proxy's back), the number
    of describes left, and a marker (an RDS resource's create time; None for instances) tying
    it to one incarnation of an identifier."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries = {}

    def start(self, key, status, until, count, marker=None):
        if count > 0:
            with self.lock:
                self.entries[key] = [status, until, count, marker]

    def _live(self, key, upstream_status, marker):
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry[1] != upstream_status or (entry[3] is not None and entry[3] != marker):
            del self.entries[key]
            return None
        return entry

    def current(self, key, upstream_status, marker=None):
        """The status shown now, without counting a describe; None: the upstream's."""
        with self.lock:
            entry = self._live(key, upstream_status, marker)
            return entry[0] if entry else None

    def consume(self, key, upstream_status, marker=None):
        """Counts one describe listing the resource; the status to show, or None."""
        with self.lock:
            entry = self._live(key, upstream_status, marker)
            if entry is None:
                return None
            entry[2] -= 1
            if entry[2] <= 0:
                del self.entries[key]
            return entry[0]

    def drop(self, key):
        with self.lock:
            self.entries.pop(key, None)

    def clear(self):
        with self.lock:
            self.entries.clear()


class DeferredDelete:
    """One delete the proxy answered but has not forwarded yet."""

    def __init__(self, key, kind, identifier, marker, remaining, request, cluster=None):
        self.key = key
        self.kind = kind              # "cluster" or "db-instance"
        self.identifier = identifier
        self.marker = marker          # the resource's create time
        self.remaining = remaining    # describes still to show it `deleting`
        self.request = request        # the client's (method, target, headers, body, credential
        #                               headers), to replay
        self.cluster = cluster        # a DB instance's cluster
        self.timer = None
        self.done = False


class Deferred:
    """The deletes in flight (slow transitions, c). Each is forwarded exactly once: after the
    last describe showing it `deleting`, after DEFERRED_MAX_SECONDS, or when slow transitions
    are turned off; `run(record, verify)` is what forwards it."""

    def __init__(self, run, done_in_thread):
        self.lock = threading.Lock()
        self.records = {}
        self.run = run
        self.done_in_thread = done_in_thread  # called at the end of a timer's thread

    def add(self, record):
        record.timer = threading.Timer(DEFERRED_MAX_SECONDS, self.expire, (record,))
        record.timer.daemon = True
        with self.lock:
            self.records[record.key] = record
        record.timer.start()

    def get(self, key):
        with self.lock:
            return self.records.get(key)

    def members_of(self, scope, cluster):
        """The identifiers of the cluster's DB instances being deleted."""
        with self.lock:
            return sorted(r.identifier for r in self.records.values()
                          if r.kind == "db-instance" and r.cluster == cluster
                          and r.key[:2] == scope)

    def seen(self, key, marker):
        """Counts one describe listing the resource: `(deleting, due)`: whether to show it
        `deleting`, and the record to forward now if this was the last such describe."""
        with self.lock:
            record = self.records.get(key)
            if record is None or record.marker != marker:
                return False, None
            record.remaining -= 1
            if record.remaining > 0:
                return True, None
        return True, (record if self._take(record) else None)

    def _take(self, record):
        """Claims the record for forwarding; False if it was claimed already."""
        with self.lock:
            if record.done:
                return False
            record.done = True
            if self.records.get(record.key) is record:
                del self.records[record.key]
        if record.timer is not None:
            record.timer.cancel()
        return True

    def expire(self, record):
        try:
            if self._take(record):
                self.run(record, verify=True)
        finally:
            self.done_in_thread()

    def flush(self):
        """Forwards every delete in flight now."""
        with self.lock:
            records = list(self.records.values())
        for record in records:
            if self._take(record):
                self.run(record, verify=True)

    def forget(self):
        """Drops every delete in flight without forwarding it."""
        with self.lock:
            records = list(self.records.values())
        for record in records:
            self._take(record)


class Call:
    """One client request strict mode or slow transitions look at."""

    def __init__(self, service, action, params, cloud, scope, request):
        self.service = service
        self.action = action
        self.params = params
        self.cloud = cloud
        self.scope = scope        # (account, region)
        self.request = request    # (method, target, headers, body, credential headers)

    def param(self, name):
        values = self.params.get(name)
        return values[0] if values else None

    def numbered(self, prefix):
        """The values of `prefix.1`, `prefix.2`, ... in order."""
        pattern = re.compile(re.escape(prefix) + r"\.(\d+)$")
        found = sorted((int(m.group(1)), values[0]) for name, values in self.params.items()
                       if (m := pattern.match(name)) and values)
        return [value for _, value in found]

    def key(self, kind, identifier):
        return self.scope + (kind, identifier)


class Emulation:
    """Strict mode and slow transitions: what happens to a request before and after it is
    forwarded."""

    def __init__(self, state):
        self.state = state
        self.transitions = Transitions()
        self.deferred = Deferred(self.forward_deferred, state.link.close)
        self.accounts = {}
        self.accounts_lock = threading.Lock()

    def call_for(self, method, headers, params, action, target, body):
        """The Call of an EC2 or RDS request, or None for anything else."""
        authorization = headers.get("Authorization")
        service = credential_service(authorization)
        if service not in ("ec2", "rds") or not action:
            return None
        header_list = list(headers.items())
        cloud = Cloud(self.state.link, header_list)
        region = credential_scope(authorization)[2]
        replay_headers = [(k, v) for k, v in header_list
                          if k.lower() not in HOP_BY_HOP
                          and k.lower() not in ("host", "content-length", "expect")]
        replay_headers += [("Host", self.state.link.netloc), ("Content-Length", str(len(body)))]
        request = (method, target, replay_headers, body, cloud.headers)
        return Call(service, action, params, cloud, (self.account(cloud), region), request)

    def account(self, cloud):
        """The upstream's account for the caller's access key (STS GetCallerIdentity, cached)."""
        scope = credential_scope(cloud.authorization)
        access_key = scope[0] if scope else ""
        cache_key = (access_key, next((v for k, v in cloud.headers
                                       if k.lower() == "x-moto-account-id"), None))
        with self.accounts_lock:
            if cache_key in self.accounts:
                return self.accounts[cache_key]
        account = None
        try:
            reply = cloud.call("sts", "GetCallerIdentity")
            if reply.ok and reply.root is not None:
                account = reply.root.findtext(".//Account")
        except LookupFailed:
            pass
        account = account or "key:" + access_key
        with self.accounts_lock:
            self.accounts[cache_key] = account
        return account

    def before(self, call):
        """`(answer, refused)`: a refusal (refused true) or the proxy's own answer, or
        `(None, False)` to forward the request."""
        strict, slow = self.state.modes()
        answer = None
        try:
            if strict:
                for rule in STRICT_RULES.get((call.service, call.action), ()):
                    answer = rule(call, self)
                    if answer:
                        break
            if answer is None and slow:
                handler = DEFERRABLE.get((call.service, call.action))
                answer = handler(call, self, slow) if handler else None
        except LookupFailed as error:
            self.state.log(f"{call.action}: check skipped: {error}")
            return None, False
        if isinstance(answer, Refusal):
            self.state.count_refusal(answer.code)
            self.state.log(f"refused {call.action}: {answer.code}: {answer.message}")
            return answer.answer(), True
        return answer, False

    def after(self, call, status, payload):
        """The upstream's answer, as the client gets it (slow transitions)."""
        slow = self.state.modes()[1]
        if not 200 <= status < 300 or not payload:
            return payload
        handler = STARTS_TRANSITION.get((call.service, call.action))
        if handler and slow:
            handler(call, self, payload.decode("utf-8", "replace"), slow)
            return payload
        rewrite = REWRITES.get((call.service, call.action))
        if rewrite and not self.idle():
            text = payload.decode("utf-8", "replace")
            new_text, due = rewrite(call, self, text)
            for record in due:
                self.forward_deferred(record, verify=False)
            if new_text != text:
                return new_text.encode("utf-8")
        return payload

    def idle(self):
        """Whether no transition and no deferred delete is in flight (a racy read is fine: an
        entry added meanwhile is for a change whose answer has not been relayed yet)."""
        return not self.transitions.entries and not self.deferred.records

    def visible_instances(self, call, params):
        """The instances DescribeInstances lists, with the state the client would see."""
        found = call.cloud.instances(params)
        for instance in found:
            shown = self.transitions.current(call.key("instance", instance["id"]),
                                             instance["state"])
            instance["state"] = shown or instance["state"]
        return found

    def defer(self, record):
        self.transitions.drop(record.key)
        self.deferred.add(record)
        self.state.count_deferred_delete()
        self.state.log(f"deferred the delete of {record.kind} {record.identifier}")

    def forward_deferred(self, record, verify):
        """Forwards a deferred delete to the upstream (once its time has come)."""
        method, target, headers, body, credentials = record.request
        cloud = Cloud(self.state.link, credentials)
        try:
            if verify and not self.still_there(cloud, record):
                self.state.log(f"dropped the deferred delete of {record.kind} "
                               f"{record.identifier}: it is gone or was re-created")
                return
            status, _, _, payload = self.state.link.exchange(method, target, headers, body)
            if status >= 300:
                self.state.log(f"the deferred delete of {record.kind} {record.identifier} failed:"
                               f" HTTP {status}: {payload[:500]!r}", always=True)
            else:
                self.state.log(f"forwarded the deferred delete of {record.kind} "
                               f"{record.identifier}")
        except (UpstreamError, LookupFailed) as error:
            self.state.log(f"the deferred delete of {record.kind} {record.identifier} failed: "
                           f"{error}", always=True)

    @staticmethod
    def still_there(cloud, record):
        """Whether the upstream still has the very resource (same create time) a record is for."""
        if record.kind == "cluster":
            found, _ = cloud.db_clusters(record.identifier)
        else:
            found, _ = cloud.db_instances(record.identifier)
        return any(item["created"] == record.marker for item in found)

    def end_slow_transitions(self):
        self.transitions.clear()
        self.deferred.flush()

    def forget(self):
        """The upstream was reset: nothing in flight is real any more."""
        self.transitions.clear()
        self.deferred.forget()


# --- Strict mode: one function per rule (each returns a Refusal or None) ----------------------

def is_type_change(call):
    return (call.param("InstanceType.Value") is not None
            or (call.param("Attribute") or "").lower() == "instancetype")


def refuse_type_change_unless_stopped(call, emulation):
    """Rule 1: an instance's type only changes while it is stopped."""
    instance_id = call.param("InstanceId")
    if not is_type_change(call) or not instance_id:
        return None
    for instance in emulation.visible_instances(call, {"InstanceId.1": instance_id}):
        if instance["state"] != "stopped":
            return Refusal("ec2", "IncorrectInstanceState",
                           f"The instance '{instance_id}' is not in the 'stopped' state.")
    return None


def refuse_start_unless_startable(call, emulation):
    """Rule 1b: a stopping, shutting-down or terminated instance cannot be started."""
    ids = call.numbered("InstanceId")
    if not ids:
        return None
    params = {f"InstanceId.{n}": i for n, i in enumerate(ids, 1)}
    for instance in emulation.visible_instances(call, params):
        if instance["state"] in ("stopping", "shutting-down", "terminated"):
            return Refusal("ec2", "IncorrectInstanceState",
                           f"The instance '{instance['id']}' is not in a state from which it "
                           "can be started.")
    return None


def refuse_security_group_in_use(call, emulation):
    """Rule 2: a security group in use by an instance, a DB cluster or DB instance, or another
    group's rule cannot be deleted."""
    group_id = call.param("GroupId")
    if not group_id and call.param("GroupName"):
        named = call.cloud.security_groups({"GroupName.1": call.param("GroupName")})
        group_id = named[0]["id"] if named else None
    if not group_id:
        return None
    refusal = Refusal("ec2", "DependencyViolation", f"resource {group_id} has a dependent object")
    instances = emulation.visible_instances(call, {"Filter.1.Name": "instance.group-id",
                                                   "Filter.1.Value.1": group_id})
    if any(i["state"] not in ("terminated", "shutting-down") for i in instances):
        return refusal
    clusters, _ = call.cloud.db_clusters()
    db_instances, _ = call.cloud.db_instances()
    if any(group_id in item["groups"] for item in clusters + db_instances):
        return refusal
    for group in call.cloud.security_groups():
        if group["id"] != group_id and group_id in group["references"]:
            return refusal
    return None


def refuse_subnet_in_use(call, emulation):
    """Rule 3: a subnet with instances in it, or in a DB subnet group a cluster uses, cannot be
    deleted."""
    subnet_id = call.param("SubnetId")
    if not subnet_id:
        return None
    refusal = Refusal("ec2", "DependencyViolation",
                      f"The subnet '{subnet_id}' has dependencies and cannot be deleted.")
    instances = emulation.visible_instances(call, {"Filter.1.Name": "subnet-id",
                                                   "Filter.1.Value.1": subnet_id})
    if any(i["state"] != "terminated" for i in instances):
        return refusal
    groups = {g["name"] for g in call.cloud.db_subnet_groups() if subnet_id in g["subnets"]}
    if groups:
        clusters, _ = call.cloud.db_clusters()
        if any(c["subnet_group"] in groups for c in clusters):
            return refusal
    return None


def refuse_vpc_with_dependencies(call, emulation):
    """Rule 4: a VPC with subnets or non-default security groups cannot be deleted."""
    vpc_id = call.param("VpcId")
    if not vpc_id:
        return None
    in_vpc = {"Filter.1.Name": "vpc-id", "Filter.1.Value.1": vpc_id}
    if any(g["name"] != "default" for g in call.cloud.security_groups(in_vpc)) \
            or call.cloud.subnets(in_vpc):
        return Refusal("ec2", "DependencyViolation",
                       f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
    return None


def refuse_existing_cluster(call, emulation):
    """Rule 5: a DB cluster identifier in use cannot be created again."""
    identifier = rds_id(call.param("DBClusterIdentifier"))
    if identifier and call.cloud.db_clusters(identifier)[0]:
        return Refusal("rds", "DBClusterAlreadyExistsFault", "DB Cluster already exists")
    return None


def refuse_existing_db_instance(call, emulation):
    """Rule 5: a DB instance identifier in use cannot be created again."""
    identifier = rds_id(call.param("DBInstanceIdentifier"))
    if identifier and call.cloud.db_instances(identifier)[0]:
        return Refusal("rds", "DBInstanceAlreadyExists", "DB instance already exists")
    return None


def refuse_existing_subnet_group(call, emulation):
    """Rule 5: a DB subnet group name in use cannot be created again."""
    name = rds_id(call.param("DBSubnetGroupName"))
    if name and call.cloud.db_subnet_groups(name):
        return Refusal("rds", "DBSubnetGroupAlreadyExists",
                       f"The DB subnet group '{name}' already exists.")
    return None


def refuse_subnet_group_in_use(call, emulation):
    """Rule 6: a DB subnet group a DB cluster or DB instance uses cannot be deleted."""
    name = rds_id(call.param("DBSubnetGroupName"))
    if not name:
        return None
    clusters, _ = call.cloud.db_clusters()
    users = [c["id"] for c in clusters if c["subnet_group"] == name]
    if not users:
        db_instances, _ = call.cloud.db_instances()
        users = [d["id"] for d in db_instances if d["subnet_group"] == name]
    if users:
        return Refusal("rds", "InvalidDBSubnetGroupStateFault",
                       f"Cannot delete the subnet group '{name}' because at least one database "
                       f"instance: {users[0]} is still using it.")
    return None


def refuse_cluster_with_members(call, emulation, cluster=None):
    """Rule 7: a DB cluster with DB instances left (deleting ones included) cannot be deleted."""
    identifier = rds_id(call.param("DBClusterIdentifier"))
    if not identifier:
        return None
    if cluster is None:
        found, _ = call.cloud.db_clusters(identifier)
        cluster = found[0] if found else None
    members = set(cluster["members"]) if cluster else set()
    members |= set(emulation.deferred.members_of(call.scope, identifier))
    if members:
        return Refusal("rds", "InvalidDBClusterStateFault",
                       "Cluster cannot be deleted, it still contains DB instances in "
                       "non-deleting state.")
    return None


STRICT_RULES = {
    ("ec2", "ModifyInstanceAttribute"): (refuse_type_change_unless_stopped,),
    ("ec2", "StartInstances"): (refuse_start_unless_startable,),
    ("ec2", "DeleteSecurityGroup"): (refuse_security_group_in_use,),
    ("ec2", "DeleteSubnet"): (refuse_subnet_in_use,),
    ("ec2", "DeleteVpc"): (refuse_vpc_with_dependencies,),
    ("rds", "CreateDBCluster"): (refuse_existing_cluster,),
    ("rds", "CreateDBInstance"): (refuse_existing_db_instance,),
    ("rds", "CreateDBSubnetGroup"): (refuse_existing_subnet_group,),
    ("rds", "DeleteDBSubnetGroup"): (refuse_subnet_group_in_use,),
    ("rds", "DeleteDBCluster"): (refuse_cluster_with_members,),
}


# --- Slow transitions: deferring deletes, starting transitions, rewriting describes ----------

def final_snapshot(call):
    """The final snapshot the delete asks for, as the upstream reads it (None: none)."""
    skip = (call.param("SkipFinalSnapshot") or "").lower() == "true"
    name = call.param("FinalDBSnapshotIdentifier")
    return name if name and not (skip and call.action == "DeleteDBInstance") else None


def defer_cluster_delete(call, emulation, slow):
    """Slow transitions, c: answers DeleteDBCluster itself and forwards it later."""
    identifier = rds_id(call.param("DBClusterIdentifier"))
    if not identifier:
        return None
    key = call.key("cluster", identifier)
    if emulation.deferred.get(key):
        return Refusal("rds", "InvalidDBClusterStateFault",
                       f"DB cluster {identifier} is already being deleted.")
    found, text = call.cloud.db_clusters(identifier)
    if not found:
        return None  # the upstream answers its not-found
    cluster = found[0]
    if cluster["protected"]:
        return Refusal("rds", "InvalidParameterCombination",
                       "Cannot delete protected Cluster, please disable deletion protection and "
                       "try again.")
    refusal = refuse_cluster_with_members(call, emulation, cluster)
    if refusal:
        return refusal
    snapshot = final_snapshot(call)
    if snapshot and call.cloud.exists("DescribeDBClusterSnapshots",
                                      "DBClusterSnapshotIdentifier", snapshot,
                                      "DBClusterSnapshot"):
        return Refusal("rds", "DBClusterSnapshotAlreadyExistsFault",
                       f"Cannot create the snapshot because a snapshot with the identifier "
                       f"{snapshot} already exists.")
    block = deleting_block(text, ("DBClusters", "DBCluster"), "Status")
    emulation.defer(DeferredDelete(key, "cluster", identifier, cluster["created"], slow,
                                   call.request))
    return rds_result_answer("DeleteDBCluster", block)


def defer_db_instance_delete(call, emulation, slow):
    """Slow transitions, c: answers DeleteDBInstance itself and forwards it later."""
    identifier = rds_id(call.param("DBInstanceIdentifier"))
    if not identifier:
        return None
    key = call.key("db-instance", identifier)
    if emulation.deferred.get(key):
        return Refusal("rds", "InvalidDBInstanceState",
                       f"DB instance {identifier} is already being deleted.")
    found, text = call.cloud.db_instances(identifier)
    if not found:
        return None
    db_instance = found[0]
    if db_instance["protected"]:
        return Refusal("rds", "InvalidParameterCombination",
                       "Cannot delete protected DB Instance, please disable deletion protection "
                       "and try again.")
    snapshot = final_snapshot(call)
    if snapshot and call.cloud.exists("DescribeDBSnapshots", "DBSnapshotIdentifier", snapshot,
                                      "DBSnapshot"):
        return Refusal("rds", "DBSnapshotAlreadyExists",
                       f"Cannot create the snapshot because a snapshot with the identifier "
                       f"{snapshot} already exists.")
    block = deleting_block(text, ("DBInstances", "DBInstance"), "DBInstanceStatus")
    emulation.defer(DeferredDelete(key, "db-instance", identifier, db_instance["created"], slow,
                                   call.request, cluster=db_instance["cluster"]))
    return rds_result_answer("DeleteDBInstance", block)


def deleting_block(text, path, status_tag):
    """The first resource block of a describe answer, its status rewritten to `deleting`."""
    span = elements(text, path)[0]
    status = child(text, span, status_tag)
    if status is not None:
        text = replace_spans(text, [(status, f"<{status_tag}>deleting</{status_tag}>")])
        span = elements(text, path)[0]
    return text[span.start:span.end]


DEFERRABLE = {
    ("rds", "DeleteDBCluster"): defer_cluster_delete,
    ("rds", "DeleteDBInstance"): defer_db_instance_delete,
}


def start_instance_transitions(call, emulation, text, slow):
    """Slow transitions, a: each instance the answer says is pending, stopping or
    shutting-down stays so for the next describes."""
    for item in elements(text, ("instancesSet", "item")):
        instance_id = child_text(text, item, "instanceId")
        state = child(text, item, "currentState") or child(text, item, "instanceState")
        name = child_text(text, state, "name") if state else None
        if instance_id and name in INSTANCE_TRANSITIONS:
            emulation.transitions.start(call.key("instance", instance_id), name,
                                        INSTANCE_TRANSITIONS[name], slow)


def rds_transition(kind, path, created_tag, status):
    """Slow transitions, b: the resource the answer describes reads `status` for a while."""
    def start(call, emulation, text, slow):
        for block in elements(text, path):
            identifier = rds_id(child_text(text, block, path[-1] + "Identifier"))
            if identifier:
                emulation.transitions.start(call.key(kind, identifier), status, "available",
                                            slow, child_text(text, block, created_tag))
    return start


STARTS_TRANSITION = {
    ("ec2", "RunInstances"): start_instance_transitions,
    ("ec2", "StartInstances"): start_instance_transitions,
    ("ec2", "StopInstances"): start_instance_transitions,
    ("ec2", "TerminateInstances"): start_instance_transitions,
    ("rds", "CreateDBCluster"): rds_transition("cluster", ("CreateDBClusterResult", "DBCluster"),
                                               "ClusterCreateTime", "creating"),
    ("rds", "ModifyDBCluster"): rds_transition("cluster", ("ModifyDBClusterResult", "DBCluster"),
                                               "ClusterCreateTime", "modifying"),
    ("rds", "CreateDBInstance"): rds_transition("db-instance",
                                                ("CreateDBInstanceResult", "DBInstance"),
                                                "InstanceCreateTime", "creating"),
    ("rds", "ModifyDBInstance"): rds_transition("db-instance",
                                                ("ModifyDBInstanceResult", "DBInstance"),
                                                "InstanceCreateTime", "modifying"),
}


def rewrite_instances(call, emulation, text):
    """DescribeInstances: each listed instance in a transition shows its in-between state."""
    replacements = []
    for item in elements(text, ("instancesSet", "item")):
        instance_id = child_text(text, item, "instanceId")
        state = child(text, item, "instanceState")
        if not instance_id or state is None:
            continue
        shown = emulation.transitions.consume(call.key("instance", instance_id),
                                              child_text(text, state, "name"))
        if shown:
            replacements.append((state, instance_state_xml(shown)))
    return replace_spans(text, replacements), []


def rds_rewrite(kind, path, status_tag, created_tag):
    """DescribeDBClusters / DescribeDBInstances: each listed resource being deleted reads
    `deleting`, one in a transition its in-between status. Returns the deletes now due."""
    def rewrite(call, emulation, text):
        replacements, due = [], []
        for block in elements(text, path):
            identifier = rds_id(child_text(text, block, path[-1] + "Identifier"))
            status = child(text, block, status_tag)
            if not identifier or status is None:
                continue
            key, marker = call.key(kind, identifier), child_text(text, block, created_tag)
            deleting, record = emulation.deferred.seen(key, marker)
            if deleting:
                shown = "deleting"
            else:
                upstream_status = html.unescape(text[status.inner_start:status.inner_end]).strip()
                shown = emulation.transitions.consume(key, upstream_status, marker)
            if shown:
                replacements.append((status, f"<{status_tag}>{shown}</{status_tag}>"))
            if record:
                due.append(record)
        return replace_spans(text, replacements), due
    return rewrite


REWRITES = {
    ("ec2", "DescribeInstances"): rewrite_instances,
    ("rds", "DescribeDBClusters"): rds_rewrite("cluster", ("DBClusters", "DBCluster"), "Status",
                                               "ClusterCreateTime"),
    ("rds", "DescribeDBInstances"): rds_rewrite("db-instance", ("DBInstances", "DBInstance"),
                                                "DBInstanceStatus", "InstanceCreateTime"),
}


# --- The HTTP server ---------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries a Content-Length
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm holds the
    # body back until the client's delayed ACK of the headers, about 40 ms per answer.
    disable_nagle_algorithm = True
    server_version = "aws-proxy"
    sys_version = ""

    @property
    def state(self):
        return self.server.state

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.state.verbose:
            sys.stderr.write("aws_proxy: %s\n" % (fmt % args))

    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def handle_any(self):
        try:
            target = self.path
            if target.startswith(("http://", "https://")):  # absolute-form request target
                parts = urllib.parse.urlsplit(target)
                target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
            path, _, query = target.partition("?")
            body = self.read_body()
            if path.startswith("/__proxy/"):
                self.control(path, body)
                return
            if path.startswith("/moto-api/"):
                if path == "/moto-api/reset":
                    self.state.emulation.forget()
                self.forward(target, body)
                return
            params = form_params(self.headers.get("Content-Type"), body, query)
            action = self.action_of(params, path)
            self.state.count_iam(iam_action(self.command, path, query, params, self.headers))
            fault, latency_ms = self.state.decide(action, api_family(action, self.headers))
            if latency_ms:
                time.sleep(latency_ms / 1000.0)
            lost = None
            if fault == "lost":  # forwarded like any request, then its answer is lost
                fault, lost = None, action
            if fault is not None:
                self.inject(fault, params, action)
            elif self.state.emulating():
                self.emulate(target, body, params, lost)
            else:
                self.forward(target, body, lost=lost)
            self.state.answered()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def emulate(self, target, body, params, lost=None):
        """Strict mode and slow transitions around forwarding one request (`lost`: its action,
        if the answer is to be lost)."""
        action = (params.get("Action") or [None])[0]
        try:
            call = self.state.emulation.call_for(self.command, self.headers, params, action,
                                                 target, body)
            answer, refused = self.state.emulation.before(call) if call else (None, False)
        except UpstreamError as error:
            return self.upstream_error(str(error))
        if answer is not None:
            if lost is not None and not refused:  # the proxy's own answer (a deferred delete)
                return self.lose(lost, answer.status)
            return self.reply(answer.status, answer.body, answer.content_type, answer.headers)
        rewrite = None
        if call is not None:
            def rewrite(status, payload):
                try:
                    return self.state.emulation.after(call, status, payload)
                except (UpstreamError, LookupFailed) as error:
                    self.state.log(f"{call.action}: {error}", always=True)
                    return payload
        self.forward(target, body, rewrite, lost)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def action_of(self, params, path):
        action = params.get("Action")
        if action and action[0]:
            return action[0]
        target = self.headers.get("X-Amz-Target")
        if target:
            # JSON-protocol services share operation names (`ListTagsForResource` is both
            # CloudWatch Logs' and SSM's): these are counted as `service:Operation`.
            service = credential_service(self.headers.get("Authorization"))
            operation = target.rsplit(".", 1)[-1]
            return f"{service}:{operation}" if service else operation
        return f"{self.command} {path}"

    def reply(self, status, body, content_type, extra_headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, status, document):
        self.reply(status, json.dumps(document).encode(), "application/json")

    def control(self, path, body):
        if path == "/__proxy/stats" and self.command == "GET":
            self.reply_json(200, self.state.stats())
        elif path == "/__proxy/reset" and self.command == "POST":
            self.state.reset()
            self.reply_json(200, self.state.stats())
        elif path == "/__proxy/config" and self.command == "GET":
            self.reply_json(200, self.state.config())
        elif path == "/__proxy/config" and self.command == "POST":
            try:
                self.reply_json(200, self.state.configure(json.loads(body or b"{}")))
            except ValueError as error:  # json.JSONDecodeError is a ValueError
                self.reply_json(400, {"error": str(error)})
        else:
            self.reply_json(404, {"error": f"no control endpoint {self.command} {path}"})

    def inject(self, fault, params, action):
        """Answers an injected fault: a fault kind (`throttle`, `503`) or a FailScript."""
        if fault == "503":
            self.reply(503, b"Service Unavailable", "text/plain")
            return
        service = credential_service(self.headers.get("Authorization"))
        if service == "ec2" or (service is None and params.get("Version") == [EC2_API_VERSION]):
            service = "ec2"
        elif service not in ("rds", "logs", "ssm"):
            service = None  # S3's shape
        if isinstance(fault, FailScript):
            self.state.log(f"scripted failure {action}: {fault.status} {fault.code}")
            answer = error_answer(service, fault.code, fault.message, fault.status)
        else:
            code, message, status = THROTTLE_ERRORS[service]
            answer = error_answer(service, code, message, status)
        self.reply(answer.status, answer.body, answer.content_type, answer.headers)

    def lose(self, action, status):
        """A `lost` fault: the answer (HTTP `status`) is thrown away, the client gets a 503."""
        self.state.count_lost(action)
        self.state.log(f"lost the answer to {action}: HTTP {status}")
        self.reply(503, b"Service Unavailable", "text/plain")

    def forward(self, target, body, rewrite=None, lost=None):
        """Sends the request upstream and relays the answer (`rewrite(status, payload)` may
        change its body first), or with `lost` (the action) throws it away (see `lose`)."""
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP
                   and k.lower() not in ("host", "content-length", "expect")]
        headers.append(("Host", self.state.link.netloc))
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        try:
            status, reason, response_headers, payload = self.state.link.exchange(
                self.command, target, headers, body)
        except UpstreamError as error:
            return self.upstream_error(str(error))
        if rewrite is not None:
            payload = rewrite(status, payload)
        if lost is not None:
            return self.lose(lost, status)
        self.send_response(status, reason)
        content_length = None
        for name, value in response_headers:
            if name.lower() == "content-length":
                content_length = value
            elif name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        no_body = self.command == "HEAD" or status in (204, 304) or status < 200
        if self.command == "HEAD":
            if content_length is not None:
                self.send_header("Content-Length", content_length)
        elif not no_body:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not no_body:
            self.wfile.write(payload)

    def finish(self):
        super().finish()
        self.state.link.close()

    def upstream_error(self, message):
        self.state.upstream_failed()
        self.reply(502, f"aws_proxy: upstream {self.state.upstream}: {message}".encode(),
                   "text/plain")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the emulator, http://127.0.0.1:PORT")
    parser.add_argument("--listen-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--faults", default="throttle,503",
                        help="comma-separated fault kinds: throttle, 503, lost")
    parser.add_argument("--fault-actions", default="", metavar="A,B,...",
                        help="comma-separated actions random faults are drawn for "
                             "(default: every action)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--verbose", action="store_true", help="log each request on stderr")
    parser.add_argument("--strict", action="store_true",
                        help="refuse what AWS refuses but the emulator accepts")
    parser.add_argument("--slow-describes", type=int, default=0, metavar="N",
                        help="show in-between statuses for N describes; defer RDS deletes")
    parser.add_argument("--rate-limit", type=float, default=None, metavar="N",
                        help="requests per second per API family (token bucket); off by default")
    parser.add_argument("--burst", type=float, default=None, metavar="B",
                        help="the bucket's size (default: the rate limit)")
    parser.add_argument("--fail-action", action="append", default=[], metavar="SPEC",
                        help="Action[:skip[:times[:code[:status]]]]: after `skip` requests of "
                             "the action, answer `times` with that error (repeatable)")
    args = parser.parse_args(argv)
    try:
        scripts = {}
        for spec in args.fail_action:
            action, script = parse_fail_action_spec(spec)
            if action in scripts:
                raise ValueError(f"--fail-action {spec!r}: {action} is scripted twice")
            scripts[action] = script
        state = State(args.upstream.rstrip("/"), parse_rate(args.fault_rate),
                      parse_faults(args.faults), parse_latency(args.latency_ms), args.seed,
                      args.verbose, args.strict, parse_slow_describes(args.slow_describes),
                      parse_fail_actions(scripts), parse_fault_actions(args.fault_actions),
                      parse_rate_limit(args.rate_limit), parse_rate_limit(args.burst))
    except ValueError as error:
        parser.error(str(error))
    if urllib.parse.urlsplit(state.upstream).scheme != "http":
        parser.error("--upstream must be an http:// URL")
    server = Server(("127.0.0.1", args.listen_port), Handler)
    server.state = state
    print(f"ready {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
