#!/usr/bin/env python3
"""AWS Step Functions emulator for the jobfs tests.

Written from the public API (docs/platform-apis.md section 6; botocore's
stepfunctions/2016-11-23/service-2.json; the AWS Signature Version 4
documentation). The JSON 1.0 protocol: every operation is POST / with
"X-Amz-Target: AWSStepFunctions.OPERATION", "Content-Type:
application/x-amz-json-1.0" and a JSON body; errors are HTTP 400 (500,
503) with {"__type": "namespace#Exception", "message": "..."}; times are
epoch seconds (numbers).

Every request must be signed with SigV4 (AWS4-HMAC-SHA256) by one of the
--credentials: the signature is computed here from the documentation
(canonical request, string to sign, derived signing key; checked at
start-up against the "get-vanilla" case of AWS's SigV4 test suite) and
compared;
a wrong one gets InvalidSignatureException with the canonical request and
string to sign AWS says it expected. Every x-amz-* header must be signed.
Credentials with a session token need X-Amz-Security-Token; the region
and service of the credential scope must be --region and "states".

Operations: ListStateMachines, DescribeStateMachine, StartExecution,
DescribeExecution, ListExecutions, GetExecutionHistory, StopExecution.
Nothing is executed: each state machine (--machine NAME[:TYPE]) has the
states Prepare (Pass), Work (Task) and Publish (Pass); an execution moves
through them over time and its input decides the outcome, through its
"args":
  --fail=MSG    Work fails: error "JobFailed", cause MSG (FAILED)
  --timeout     the execution times out (TIMED_OUT)
  --sleep=N     Work runs N seconds (default --running)
The output of a succeeded execution is its input (Pass states and the
task pass it on). StartExecution with the name of a RUNNING execution and
the same input answers that execution again; otherwise a name used
before is ExecutionAlreadyExists.

Control endpoints (emulator.py's; not signed, counted or faulted):
  POST /_emulator/faults  the fault switch; "on" takes an operation name
                          (e.g. "StartExecution"); kind 429 answers AWS's
                          400 ThrottlingException, 500 InternalFailure,
                          503 ServiceUnavailable
  POST /_emulator/config  {"start_delay": 3, "stop_delay": 0, "step": 0.2,
                           "running": 1, "page_limit": 1000}
                          (the delays hold an answer back after acting;
                          page_limit caps the items of a page)
  GET  /_emulator/stats   {"OPERATION": count, ...}
  GET  /_emulator/executions  every execution, with its input and the
                          error and cause it was stopped with

The first line on stdout is the port (listening on 127.0.0.1).
"""

import base64
import calendar
import hashlib
import hmac
import json
import re
import time
import uuid

import emulator

TARGET = "AWSStepFunctions."
CTYPE = "application/x-amz-json-1.0"
NS = "com.amazonaws.swf.service.v2.model#"
CORAL = "com.amazon.coral.service#"
INPUT_MAX = 262144
NAME_BAD = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
STATES = (("Prepare", "Pass"), ("Work", "Task"), ("Publish", "Pass"))
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class AwsError(Exception):
    def __init__(self, name, message, status=400, ns=NS):
        super().__init__(message)
        self.name, self.message, self.status, self.ns = \
            name, message, status, ns


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def hmac256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_request(method, path, query, headers, signed, body):
    """SigV4's canonical request: @headers maps a lower-case name to its
    values, @signed lists the signed names (sorted, lower case)."""
    lines = ["%s:%s\n" % (h, ",".join(" ".join(v.split())
                                      for v in headers.get(h, [])))
             for h in signed]
    q = "&".join("%s=%s" % kv for kv in sorted(query.items()))
    return "\n".join([method, path or "/", q, "".join(lines),
                      ";".join(signed), sha256(body)])


def string_to_sign(amz_date, scope, creq):
    return "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                      sha256(creq.encode())])


def signature(secret, scope, sts):
    """HMAC-SHA256 of @sts with the key derived from @secret for @scope
    ("DAY/REGION/SERVICE/aws4_request")."""
    day, region, service, _ = scope.split("/")
    k = hmac256(("AWS4" + secret).encode(), day)
    k = hmac256(hmac256(hmac256(k, region), service), "aws4_request")
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


def self_test():
    """The "get-vanilla" case of AWS's SigV4 test suite: the signing
    above must give the signature the documentation gives."""
    scope = "20150830/us-east-1/service/aws4_request"
    creq = canonical_request(
        "GET", "/", {}, {"host": ["example.amazonaws.com"],
                         "x-amz-date": ["20150830T123600Z"]},
        ["host", "x-amz-date"], b"")
    got = signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", scope,
                    string_to_sign("20150830T123600Z", scope, creq))
    if got != "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31":
        raise SystemExit("stepfunctions.py: SigV4 self-test failed")


class Execution:
    def __init__(self, machine, name, input_text, timing, now):
        self.machine, self.name, self.input = machine, name, input_text
        self.arn = "arn:aws:states:%s:%s:execution:%s:%s" % (
            machine["region"], machine["account"], machine["name"], name)
        self.start = now
        self.aborted = None  # (time, error, cause)
        args = []
        try:
            args = json.loads(input_text).get("args") or []
        except (ValueError, AttributeError):
            pass
        self.failure, self.timeout = None, False
        work = timing["running"]
        for a in (str(x) for x in args):
            if a.startswith("--fail="):
                self.failure = a[len("--fail="):]
            elif a == "--timeout":
                self.timeout = True
            elif a.startswith("--sleep="):
                work = max(0.0, float(a[len("--sleep="):]))
        step = timing["step"]
        t, self.spans = now + 0.01, []
        for name, kind in STATES:
            length = work if kind == "Task" else step
            self.spans.append((name, kind, t, t + length))
            t += length
            if name == "Work" and (self.failure is not None or self.timeout):
                break
        self.end = t

    def status(self, now):
        if self.aborted and self.aborted[0] <= now:
            return "ABORTED"
        if now < self.end:
            return "RUNNING"
        if self.timeout:
            return "TIMED_OUT"
        return "FAILED" if self.failure is not None else "SUCCEEDED"

    def stop_date(self, now):
        st = self.status(now)
        if st == "ABORTED":
            return self.aborted[0]
        return self.end if st in TERMINAL else None

    def summary(self, now):
        out = {"executionArn": self.arn, "stateMachineArn": self.machine["arn"],
               "name": self.name, "status": self.status(now),
               "startDate": self.start, "redriveCount": 0}
        if self.stop_date(now) is not None:
            out["stopDate"] = self.stop_date(now)
        return out

    def describe(self, now):
        out = self.summary(now)
        out.update({"input": self.input, "inputDetails": {"included": True},
                    "redriveStatus": "NOT_REDRIVABLE"})
        st = out["status"]
        if st == "SUCCEEDED":
            out["output"] = self.input
            out["outputDetails"] = {"included": True}
        error, cause = self.end_error(now)
        if error is not None:
            out["error"] = error
        if cause is not None:
            out["cause"] = cause
        return out

    def end_error(self, now):
        st = self.status(now)
        if st == "ABORTED":
            return self.aborted[1], self.aborted[2]
        if st == "FAILED":
            return "JobFailed", self.failure
        if st == "TIMED_OUT":
            return "States.Timeout", None
        return None, None

    def events(self, now, data):
        """The history up to @now, oldest first (ids from 1)."""
        cut = self.aborted[0] if self.aborted else None
        evs = []

        def add(t, etype, key=None, details=None):
            if t > now or (cut is not None and t >= cut):
                return
            ev = {"timestamp": t, "type": etype, "id": len(evs) + 1,
                  "previousEventId": len(evs)}
            if key:
                ev[key] = {k: v for k, v in details.items()
                           if data or k not in ("input", "output")}
            evs.append(ev)

        add(self.start, "ExecutionStarted", "executionStartedEventDetails",
            {"input": self.input, "roleArn": self.machine["role"]})
        res = {"resourceType": "lambda", "resource": "invoke"}
        for name, kind, t0, t1 in self.spans:
            add(t0, kind + "StateEntered", "stateEnteredEventDetails",
                {"name": name, "input": self.input})
            failed = name == "Work" and self.failure is not None
            if kind == "Task":
                add(t0, "TaskScheduled", "taskScheduledEventDetails",
                    dict(res, region=self.machine["region"],
                         parameters="{}"))
                add(t0 + 0.001, "TaskStarted", "taskStartedEventDetails",
                    dict(res))
                if failed:
                    add(t1, "TaskFailed", "taskFailedEventDetails",
                        dict(res, error="JobFailed", cause=self.failure))
                elif not (name == "Work" and self.timeout):
                    add(t1, "TaskSucceeded", "taskSucceededEventDetails",
                        dict(res, output=self.input))
            if not failed and not (name == "Work" and self.timeout):
                add(t1, kind + "StateExited", "stateExitedEventDetails",
                    {"name": name, "output": self.input})
        self.add_end(add, now, cut)
        return evs

    def add_end(self, add, now, cut):
        if cut is not None and cut <= now:
            add(cut - 1e-6, "ExecutionAborted", "executionAbortedEventDetails",
                {"error": self.aborted[1], "cause": self.aborted[2]})
        elif self.timeout:
            add(self.end, "ExecutionTimedOut",
                "executionTimedOutEventDetails", {"error": "States.Timeout"})
        elif self.failure is not None:
            add(self.end, "ExecutionFailed", "executionFailedEventDetails",
                {"error": "JobFailed", "cause": self.failure})
        else:
            add(self.end, "ExecutionSucceeded",
                "executionSucceededEventDetails", {"output": self.input})


class State(emulator.State):
    def __init__(self, opts):
        super().__init__(opts)
        self.keys = {}  # access key id -> (secret, token or None)
        for c in opts.credentials or []:
            parts = c.split(":")
            self.keys[parts[0]] = (parts[1], parts[2] if len(parts) > 2
                                   else None)
        self.machines = {}
        for m in opts.machine or ["jobs"]:
            name, _, mtype = m.partition(":")
            arn = "arn:aws:states:%s:%s:stateMachine:%s" % (
                opts.region, opts.account, name)
            self.machines[arn] = {
                "arn": arn, "name": name, "type": mtype or "STANDARD",
                "region": opts.region, "account": opts.account,
                "role": "arn:aws:iam::%s:role/%s" % (opts.account, name),
                "created": time.time()}
        self.executions = {}  # arn -> Execution
        self.all = []
        self.timing = {"start_delay": 0.0, "stop_delay": 0.0,
                       "step": opts.step, "running": opts.running,
                       "page_limit": 1000}


class Handler(emulator.Handler):
    server_version = "Server"
    json_type = CTYPE

    @property
    def emu(self):
        return self.state

    def extra_headers(self):
        return [("x-amzn-RequestId", str(uuid.uuid4()))]

    def aws_error(self, e, headers=()):
        self.send(e.status, {"__type": e.ns + e.name, "message": e.message},
                  headers=headers)

    def fault_error(self, code):
        if code == 429:
            e = AwsError("ThrottlingException", "Rate exceeded",
                         ns="com.amazon.coral.availability#")
        elif code == 503:
            e = AwsError("ServiceUnavailable", "Service Unavailable", 503,
                         ns=CORAL)
        elif code == 500:
            e = AwsError("InternalFailure", "Internal Failure", 500, CORAL)
        else:
            e = AwsError("ValidationException", "injected fault", code)
        self.aws_error(e)

    def fault_kind(self, kind):
        """A dropped start was acted on first, or not: half and half."""
        if kind == "drop" and self.operation() == "StartExecution" and \
                not self.emu.coin():
            return "after_drop"
        return kind

    def operation(self):
        target = self.headers.get("X-Amz-Target") or ""
        return target[len(TARGET):] if target.startswith(TARGET) else None

    def count_key(self, method, path, query):
        return self.operation() or "%s %s" % (method, path)

    # ---- SigV4

    def check_signature(self, path, query, body):
        auth = self.headers.get("Authorization")
        if not auth:
            raise AwsError("MissingAuthenticationTokenException",
                           "Missing Authentication Token", ns=CORAL)
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*"
                         r"SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)",
                         auth.strip())
        if not m:
            raise AwsError("IncompleteSignatureException",
                           "Authorization header requires 'Credential', "
                           "'Signature' and 'SignedHeaders' parameters. "
                           "Authorization=" + auth.split(" ")[0], ns=CORAL)
        cred, signed, given = m.group(1), m.group(2).split(";"), m.group(3)
        key_id, _, scope = cred.partition("/")
        if key_id not in self.emu.keys:
            raise AwsError("UnrecognizedClientException", "The security "
                           "token included in the request is invalid.",
                           ns=CORAL)
        secret, token = self.emu.keys[key_id]
        self.check_scope(scope, signed)
        self.check_token(token)
        amz_date = self.headers.get("X-Amz-Date")
        headers = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        creq = canonical_request(self.command, path, query, headers, signed,
                                 body)
        sts = string_to_sign(amz_date, scope, creq)
        want = signature(secret, scope, sts)
        if not hmac.compare_digest(want, given):
            raise AwsError(
                "InvalidSignatureException",
                "The request signature we calculated does not match the "
                "signature you provided. Check your AWS Secret Access Key "
                "and signing method. Consult the service documentation for "
                "details.\n\nThe Canonical String for this request should "
                "have been\n'%s'\n\nThe String-to-Sign should have been\n"
                "'%s'\n" % (creq, sts), ns=CORAL)

    def check_scope(self, scope, signed):
        parts = scope.split("/")
        amz_date = self.headers.get("X-Amz-Date") or ""
        if len(parts) != 4 or parts[3] != "aws4_request":
            raise AwsError("IncompleteSignatureException", "Credential "
                           "should be scoped to a valid region.", ns=CORAL)
        if not re.fullmatch(r"\d{8}T\d{6}Z", amz_date):
            raise AwsError("IncompleteSignatureException", "Authorization "
                           "header requires existence of either a "
                           "'X-Amz-Date' or a 'Date' header.", ns=CORAL)
        if parts[0] != amz_date[:8]:
            raise AwsError("InvalidSignatureException", "Date in Credential "
                           "scope does not match YYYYMMDD from ISO-8601 "
                           "version of date from HTTP: '%s' != '%s', from "
                           "'%s'." % (parts[0], amz_date[:8], amz_date),
                           ns=CORAL)
        when = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        if abs(when - time.time()) > 300:
            raise AwsError("InvalidSignatureException", "Signature expired: "
                           "%s is now earlier than the allowed window." %
                           amz_date, ns=CORAL)
        if parts[1] != self.emu.opts.region:
            raise AwsError("InvalidSignatureException", "Credential should "
                           "be scoped to a valid region. ", ns=CORAL)
        if parts[2] != "states":
            raise AwsError("InvalidSignatureException", "Credential should "
                           "be scoped to correct service: 'states'. ",
                           ns=CORAL)
        if "host" not in signed:
            raise AwsError("InvalidSignatureException", "'Host' or "
                           "':authority' must be a 'SignedHeader' in the "
                           "AWS Authorization.", ns=CORAL)
        for name in self.headers.keys():
            if name.lower().startswith("x-amz-") and \
                    name.lower() not in signed:
                raise AwsError("InvalidSignatureException", "The request "
                               "signature does not sign header '%s'." %
                               name.lower(), ns=CORAL)

    def check_token(self, token):
        given = self.headers.get("X-Amz-Security-Token")
        if given != token:
            raise AwsError("UnrecognizedClientException", "The security "
                           "token included in the request is invalid.",
                           ns=CORAL)

    # ---- routing

    def route(self, method, path, query, body):
        try:
            if method != "POST" or path != "/":
                raise AwsError("UnknownOperationException", "", ns=CORAL)
            self.check_signature(path, query, body)
            op = self.operation()
            ctype = (self.headers.get("Content-Type") or "").split(";")[0]
            if op is None or not hasattr(self, "op_" + op):
                raise AwsError("UnknownOperationException", "", ns=CORAL)
            if ctype.strip() != CTYPE:
                raise AwsError("SerializationException", "Unexpected "
                               "content type " + ctype, ns=CORAL)
            try:
                req = json.loads(body or b"{}")
            except ValueError:
                raise AwsError("SerializationException", "Malformed JSON",
                               ns=CORAL)
            reply, delay = getattr(self, "op_" + op)(req, time.time())
        except AwsError as e:
            return self.aws_error(e)
        if delay > 0:
            time.sleep(delay)
        self.send(200, reply)

    # ---- operations

    def machine(self, arn):
        if not isinstance(arn, str) or ":stateMachine:" not in arn:
            raise AwsError("InvalidArn", "Invalid Arn: 'Resource type not "
                           "valid in this context: %s'" % arn)
        m = self.emu.machines.get(arn)
        if m is None:
            raise AwsError("StateMachineDoesNotExist", "State Machine Does "
                           "Not Exist: '%s'" % arn)
        return m

    def execution(self, arn):
        if not isinstance(arn, str) or ":execution:" not in arn:
            raise AwsError("InvalidArn", "Invalid Arn: 'Resource type not "
                           "valid in this context: %s'" % arn)
        e = self.emu.executions.get(arn)
        if e is None:
            raise AwsError("ExecutionDoesNotExist", "Execution Does Not "
                           "Exist: '%s'" % arn)
        return e

    def op_ListStateMachines(self, req, now):
        with self.emu.lock:
            ms = [{"stateMachineArn": m["arn"], "name": m["name"],
                   "type": m["type"], "creationDate": m["created"]}
                  for m in self.emu.machines.values()]
        return self.page(ms, req, "stateMachines", "stateMachineArn"), 0

    def op_DescribeStateMachine(self, req, now):
        with self.emu.lock:
            m = self.machine(req.get("stateMachineArn"))
            return {"stateMachineArn": m["arn"], "name": m["name"],
                    "status": "ACTIVE", "type": m["type"],
                    "roleArn": m["role"], "creationDate": m["created"],
                    "definition": json.dumps({"StartAt": STATES[0][0]})}, 0

    def check_start(self, req):
        name = req.get("name") or str(uuid.uuid4())
        text = req.get("input", "{}")
        if not isinstance(name, str) or len(name) > 80 or \
                NAME_BAD.search(name):
            raise AwsError("InvalidName", "Invalid Name: '%s'" % name)
        if not isinstance(text, str) or len(text.encode()) > INPUT_MAX:
            raise AwsError("ValidationException", "1 validation error "
                           "detected: Value at 'input' failed to satisfy "
                           "constraint: Member must have length less than "
                           "or equal to %d" % INPUT_MAX,
                           ns="com.amazon.coral.validate#")
        try:
            json.loads(text)
        except ValueError:
            raise AwsError("InvalidExecutionInput", "Invalid State Machine "
                           "Execution Input: 'Unexpected character'")
        return name, text

    def op_StartExecution(self, req, now):
        name, text = self.check_start(req)
        with self.emu.lock:
            m = self.machine(req.get("stateMachineArn"))
            e = Execution(m, name, text, self.emu.timing, now)
            old = self.emu.executions.get(e.arn)
            if old is not None:
                if m["type"] != "STANDARD" or old.status(now) != "RUNNING" \
                        or old.input != text:
                    raise AwsError("ExecutionAlreadyExists", "Execution "
                                   "Already Exists: '%s'" % e.arn)
                e = old
            else:
                self.emu.executions[e.arn] = e
                self.emu.all.append(e)
            delay = self.emu.timing["start_delay"]
        return {"executionArn": e.arn, "startDate": e.start}, delay

    def op_DescribeExecution(self, req, now):
        with self.emu.lock:
            e = self.execution(req.get("executionArn"))
            if e.machine["type"] != "STANDARD":
                raise AwsError("InvalidArn", "Invalid Arn: 'Express "
                               "executions are not supported'")
            return e.describe(now), 0

    def op_ListExecutions(self, req, now):
        filt = req.get("statusFilter")
        if filt is not None and filt not in TERMINAL + ("RUNNING",
                                                        "PENDING_REDRIVE"):
            raise AwsError("ValidationException", "1 validation error "
                           "detected: Value '%s' at 'statusFilter' failed "
                           "to satisfy constraint" % filt,
                           ns="com.amazon.coral.validate#")
        with self.emu.lock:
            m = self.machine(req.get("stateMachineArn"))
            es = [e.summary(now) for e in self.emu.all if e.machine is m]
        es = [e for e in es if filt is None or e["status"] == filt]
        es.sort(key=lambda e: (-e["startDate"], e["executionArn"]))
        return self.page(es, req, "executions", "executionArn"), 0

    def op_GetExecutionHistory(self, req, now):
        with self.emu.lock:
            e = self.execution(req.get("executionArn"))
            evs = e.events(now, req.get("includeExecutionData", True))
        if req.get("reverseOrder"):
            evs.reverse()
        return self.page(evs, req, "events", "id"), 0

    def op_StopExecution(self, req, now):
        error, cause = req.get("error"), req.get("cause")
        if (error is not None and len(error) > 256) or \
                (cause is not None and len(cause) > 32768):
            raise AwsError("ValidationException", "1 validation error "
                           "detected: error or cause too long",
                           ns="com.amazon.coral.validate#")
        with self.emu.lock:
            e = self.execution(req.get("executionArn"))
            if e.status(now) == "RUNNING":
                e.aborted = (now, error, cause)
            stop = e.stop_date(now)
            delay = self.emu.timing["stop_delay"]
        return {"stopDate": stop}, delay

    # ---- paging

    def page(self, items, req, key, ident):
        """A page of @items after req's nextToken (the @ident of the last
        item of the page before), of at most maxResults."""
        n = req.get("maxResults") or 100
        if not isinstance(n, int) or n < 0 or n > 1000:
            raise AwsError("ValidationException", "1 validation error "
                           "detected: Value at 'maxResults' failed to "
                           "satisfy constraint: Member must have value less "
                           "than or equal to 1000",
                           ns="com.amazon.coral.validate#")
        n = min(n, int(self.emu.timing["page_limit"]))
        start = 0
        token = req.get("nextToken")
        if token is not None:
            try:
                after = json.loads(base64.b64decode(token))["after"]
                start = [i[ident] for i in items].index(after) + 1
            except (ValueError, KeyError, TypeError):
                raise AwsError("InvalidToken", "Invalid Token: '%s'" % token)
        out = {key: items[start:start + n]}
        if start + n < len(items):
            last = items[start + n - 1][ident]
            out["nextToken"] = base64.b64encode(
                json.dumps({"after": last}).encode()).decode()
        return out

    # ---- control

    def configure(self, req):
        with self.emu.lock:
            self.emu.timing.update({k: float(v) for k, v in req.items()
                                    if k in self.emu.timing})
            return dict(self.emu.timing)

    def control_get(self, name, query):
        if name != "executions":
            return None
        now = time.time()
        with self.emu.lock:
            return [dict(e.describe(now), input=e.input,
                         stop_error=e.aborted[1] if e.aborted else None,
                         stop_cause=e.aborted[2] if e.aborted else None)
                    for e in self.emu.all]


def add_options(ap):
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--account", default="123456789012")
    ap.add_argument("--credentials", action="append",
                    help="ACCESS_KEY_ID:SECRET[:SESSION_TOKEN]; repeatable")
    ap.add_argument("--machine", action="append",
                    help="NAME[:STANDARD|EXPRESS]; repeatable "
                    "(default: jobs)")
    ap.add_argument("--step", type=float, default=0.2,
                    help="seconds a Pass state takes")
    ap.add_argument("--running", type=float, default=1.0,
                    help="seconds the Work task takes")


if __name__ == "__main__":
    self_test()
    raise SystemExit(emulator.main(Handler, State, __doc__, add_options))
