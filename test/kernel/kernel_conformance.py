"""Jupyter conformance of the mtlkit kernel, with Debian's jupyter_kernel_test.

Run by test/kernel/conformance.test.ts as
    /usr/bin/python3 -m unittest -v kernel_conformance
with JUPYTER_PATH pointing at a data dir that holds the kernelspec
(MTLKIT_KERNEL_NAME, default "mtlkit"), MTLKIT_HISTORY_FILE at a fresh file, and
the working directory inside the repository (so that `import "mtlkit"` resolves).
"""
import json
import re
import os
import signal
import time
import unittest
from queue import Empty

import jupyter_kernel_test
import zmq
from jupyter_client.session import Session

TIMEOUT = 30
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def ts_version():
    path = os.path.join(REPO, "node_modules", "@tslab", "typescript-for-tslab", "package.json")
    with open(path) as f:
        return json.load(f)["version"]


class MtlkitKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = os.environ.get("MTLKIT_KERNEL_NAME", "mtlkit")
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something went wrong")'

    completion_samples = [
        {"text": "Math.ma", "matches": {"max"}},
        {"text": "conso", "matches": {"console"}},
    ]
    complete_code_samples = ["1", "let a = 1", "function f() { return 1 }", "class A {}\n"]
    incomplete_code_samples = ["function f() {", "let xs = [1,", "if (true) {", "foo("]
    invalid_code_samples = ["1 +* 2", "}", "x = = 2"]

    code_page_something = 'page("a long help text")'
    code_generate_error = 'throw new Error("boom")'
    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": '"a" + "b"', "result": "'ab'"},
        {"code": "[10, 20].map((v) => v / 10)", "result": "[ 1, 2 ]"},
        {"code": "html`<b>x</b>`", "mime": "text/html", "result": "<b>x</b>"},
    ]
    code_display_data = [
        {"code": "display(html`<b>hi</b>`)", "mime": "text/html"},
        {"code": "display(md`# title`)", "mime": "text/markdown"},
        {"code": "display(latex`$x^2$`)", "mime": "text/latex"},
        {"code": 'display(svg`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)', "mime": "image/svg+xml"},
        {"code": 'display(png("iVBORw0KGgo="))', "mime": "image/png"},
        {"code": 'display({"text/plain": "raw"}, {raw: true})', "mime": "text/plain"},
    ]
    code_history_pattern = "1 + *"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "Math.max"
    code_clear_output = "clearOutput()"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The kernel builds its compiler after answering kernel_info (about a second,
        # much longer on a loaded CI machine); let that finish before the timed checks.
        reply = cls.kc.execute_interactive("'warm-up'", timeout=180, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]

    # ---- helpers ---------------------------------------------------------------------------

    def run_cell(self, code, timeout=TIMEOUT, **kw):
        """Execute and collect (reply, [iopub messages of this request]) until idle."""
        msg_id = self.kc.execute(code, **kw)
        return self.collect(msg_id, timeout)

    def collect(self, msg_id, timeout=TIMEOUT):
        outputs = []
        deadline = time.time() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            jupyter_kernel_test.validate_message(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            outputs.append(msg)
        reply = self.shell_reply(msg_id, timeout)
        return reply, outputs

    def shell_reply(self, msg_id, timeout=TIMEOUT):
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                jupyter_kernel_test.validate_message(reply)
                return reply

    def of_type(self, outputs, t):
        return [m for m in outputs if m["msg_type"] == t]

    # ---- mtlkit-specific features ------------------------------------------------------------

    def test_mtlkit_kernel_info(self):
        self.flush_channels()
        reply = self.kc.kernel_info(reply=True, timeout=TIMEOUT)
        c = reply["content"]
        self.assertEqual(c["status"], "ok")
        self.assertEqual(c["protocol_version"], "5.3")
        self.assertEqual(c["implementation"], "mtlkit")
        self.assertEqual(c["language_info"]["version"], ts_version())

    def test_mtlkit_execute_input_and_count(self):
        self.flush_channels()
        reply, outputs = self.run_cell("40 + 2")
        count = reply["content"]["execution_count"]
        inputs = self.of_type(outputs, "execute_input")
        self.assertEqual(len(inputs), 1)
        self.assertEqual(inputs[0]["content"]["execution_count"], count)
        result = self.of_type(outputs, "execute_result")[0]["content"]
        self.assertEqual(result["execution_count"], count)
        self.assertEqual(result["data"]["text/plain"], "42")
        reply2, _ = self.run_cell("1")
        self.assertEqual(reply2["content"]["execution_count"], count + 1)

    def test_mtlkit_silent_has_no_count_or_output(self):
        self.flush_channels()
        before = self.run_cell("0")[0]["content"]["execution_count"]
        reply, outputs = self.run_cell("7", silent=True)
        self.assertEqual(self.of_type(outputs, "execute_result"), [])
        self.assertEqual(self.of_type(outputs, "execute_input"), [])
        self.assertEqual(reply["content"]["execution_count"], before)

    def test_mtlkit_runtime_error_points_at_typescript_lines(self):
        self.flush_channels()
        code = "type T = { a: number };\ninterface U { b: string }\nfunction fail(): never {\n  throw new RangeError('bad ' + 1);\n}\nfail();"
        reply, outputs = self.run_cell(code)
        c = reply["content"]
        self.assertEqual(c["status"], "error")
        self.assertEqual(c["ename"], "RangeError")
        self.assertEqual(c["evalue"], "bad 1")
        tb = "\n".join(c["traceback"])
        count = c["execution_count"]
        self.assertIn(f"at fail (Cell [{count}]:4:", tb)
        self.assertIn(f"Cell [{count}]:6:", tb)
        self.assertNotIn("mtlkit-cell", tb)
        self.assertNotIn("dist/kernel", tb)
        self.assertNotIn("node:internal", tb)
        err = self.of_type(outputs, "error")
        self.assertEqual(len(err), 1)
        self.assertEqual(err[0]["content"]["traceback"], c["traceback"])

    def test_mtlkit_error_in_function_from_earlier_cell(self):
        self.flush_channels()
        self.run_cell("const thrower = () => {\n  return JSON.parse('{');\n};")
        reply, _ = self.run_cell("\n\nthrower()")
        c = reply["content"]
        self.assertEqual(c["ename"], "SyntaxError")
        tb = "\n".join(c["traceback"])
        self.assertRegex(tb, r"Cell \[\d+\]:2:")
        self.assertRegex(tb, r"Cell \[\d+\]:3:1")

    def test_mtlkit_type_error(self):
        self.flush_channels()
        reply, outputs = self.run_cell("const n: number = 1;\nconst s: string = n;")
        c = reply["content"]
        self.assertEqual(c["status"], "error")
        self.assertEqual(c["ename"], "TSError")
        self.assertIn("TS2322", c["evalue"])
        self.assertIn(":2:7", c["traceback"][0])
        self.assertEqual(len(self.of_type(outputs, "error")), 1)

    def test_mtlkit_async_and_top_level_await(self):
        self.flush_channels()
        reply, outputs = self.run_cell("await new Promise((r) => setTimeout(() => r(5), 10))")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(self.of_type(outputs, "execute_result")[0]["content"]["data"]["text/plain"], "5")
        reply, _ = self.run_cell("await Promise.reject(new TypeError('async boom'))")
        self.assertEqual(reply["content"]["ename"], "TypeError")

    def test_mtlkit_stop_on_error_aborts_only_queued_cells(self):
        self.flush_channels()
        ids = [
            self.kc.execute("throw new Error('first')"),
            self.kc.execute("'second'"),
            self.kc.execute("'third'"),
        ]
        replies = {}
        while len(replies) < 3:
            r = self.kc.get_shell_msg(timeout=TIMEOUT)
            replies[r["parent_header"]["msg_id"]] = r["content"]["status"]
        self.assertEqual([replies[i] for i in ids], ["error", "aborted", "aborted"])
        self.flush_channels()
        reply, outputs = self.run_cell("'after'")
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(self.of_type(outputs, "execute_result")[0]["content"]["data"]["text/plain"], "'after'")

    def test_mtlkit_stop_on_error_false_runs_queued_cells(self):
        self.flush_channels()
        ids = [self.kc.execute("throw new Error('x')", stop_on_error=False), self.kc.execute("'next'")]
        replies = {}
        while len(replies) < 2:
            r = self.kc.get_shell_msg(timeout=TIMEOUT)
            replies[r["parent_header"]["msg_id"]] = r["content"]["status"]
        self.assertEqual([replies[i] for i in ids], ["error", "ok"])

    def test_mtlkit_rich_display_protocol(self):
        self.flush_channels()
        code = 'const fancy = { [Symbol.for("Jupyter.display")]() { return { "text/html": "<i>fancy</i>" }; } };\nfancy'
        reply, outputs = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertEqual(len(self.of_type(outputs, "execute_result")), 1, outputs)
        data = self.of_type(outputs, "execute_result")[0]["content"]["data"]
        self.assertEqual(data["text/html"], "<i>fancy</i>")
        self.assertIn("text/plain", data)

    def test_mtlkit_plotly_bundle(self):
        self.flush_channels()
        code = 'const fig = { [Symbol.for("Jupyter.display")]() { return { "application/vnd.plotly.v1+json": { data: [{ type: "bar", x: ["a", "b"], y: [1, 2] }], layout: { title: { text: "T" } } }, "text/plain": "a figure" }; } };\nfig'
        reply, outputs = self.run_cell(code)
        data = self.of_type(outputs, "execute_result")[0]["content"]["data"]
        self.assertIn("application/vnd.plotly.v1+json", data)
        self.assertEqual(data["text/plain"], "a figure")
        html = data["text/html"]
        self.assertTrue("Plotly.newPlot" in html, "no drawing script")
        self.assertTrue("plotly.js v" in html, "plotly.js is not inlined in the first figure")
        self.assertFalse(re.search(r"<script[^>]+src=", html), "a script is loaded from elsewhere")
        # a second figure reuses the plotly.js already on the page
        _, outputs2 = self.run_cell("display({ data: [{ type: 'scatter', x: [1], y: [1] }], layout: {} })")
        html2 = self.of_type(outputs2, "display_data")[0]["content"]["data"]["text/html"]
        self.assertLess(len(html2), 10000)

    def test_mtlkit_display_hook_and_update(self):
        self.flush_channels()
        code = (
            'const hook = (globalThis as any)[Symbol.for("mtlkit.display")];\n'
            'hook({ "text/plain": "step 1" }, { displayId: "p1" });\n'
            'hook({ "text/plain": "step 2" }, { displayId: "p1", update: true });\n'
            'const h = newDisplay(); h.update("a"); h.update("b");'
        )
        reply, outputs = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "ok")
        shown = self.of_type(outputs, "display_data")
        updates = self.of_type(outputs, "update_display_data")
        self.assertEqual(shown[0]["content"]["transient"]["display_id"], "p1")
        self.assertEqual(updates[0]["content"]["transient"]["display_id"], "p1")
        self.assertEqual(updates[0]["content"]["data"]["text/plain"], "step 2")
        self.assertEqual(len(shown), 2)
        self.assertEqual(len(updates), 2)
        self.assertEqual(shown[1]["content"]["transient"]["display_id"], updates[1]["content"]["transient"]["display_id"])

    def test_mtlkit_dataframe_and_tensor(self):
        self.flush_channels()
        reply, outputs = self.run_cell(
            'import * as dfd from "danfojs-node";\nnew dfd.DataFrame({ task: ["a", "b"], loss: [0.5, 0.25] })', timeout=90
        )
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        data = self.of_type(outputs, "execute_result")[0]["content"]["data"]
        self.assertIn("<table", data["text/html"])
        self.assertIn("<td>0.25</td>", data["text/html"])
        self.assertIn("loss", data["text/plain"])
        reply, outputs = self.run_cell('import * as tf from "@tensorflow/tfjs";\ntf.ones([200, 3])', timeout=90)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        text = self.of_type(outputs, "execute_result")[0]["content"]["data"]["text/plain"]
        self.assertTrue(text.startswith("Tensor float32 [200, 3]"), text)
        self.assertIn("...", text)
        self.assertLess(len(text), 2000)

    def test_mtlkit_import_package_by_name(self):
        index = os.path.join(REPO, "dist", "lib", "index.d.ts")
        if not os.path.exists(index):
            self.skipTest("the library is not built yet (dist/lib/index.d.ts missing)")
        self.flush_channels()
        reply, outputs = self.run_cell('import * as mtl from "mtlkit";\ntypeof mtl', timeout=90)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertEqual(self.of_type(outputs, "execute_result")[0]["content"]["data"]["text/plain"], "'object'")

    def test_mtlkit_user_expressions(self):
        self.flush_channels()
        reply, _ = self.run_cell("const ue = 21", user_expressions={"double": "ue * 2", "bad": "nope()"})
        ue = reply["content"]["user_expressions"]
        self.assertEqual(ue["double"]["status"], "ok")
        self.assertEqual(ue["double"]["data"]["text/plain"], "42")
        self.assertEqual(ue["bad"]["status"], "error")

    def test_mtlkit_input_request(self):
        self.flush_channels()
        msg_id = self.kc.execute('const who = prompt("name?");\n"hello " + who', allow_stdin=True)
        req = self.kc.get_stdin_msg(timeout=TIMEOUT)
        self.assertEqual(req["msg_type"], "input_request")
        self.assertEqual(req["content"]["prompt"], "name?")
        self.kc.input("Ada")
        reply, outputs = self.collect(msg_id)
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(self.of_type(outputs, "execute_result")[0]["content"]["data"]["text/plain"], "'hello Ada'")
        reply, _ = self.run_cell('prompt("x")', allow_stdin=False)
        self.assertEqual(reply["content"]["status"], "error")

    def test_mtlkit_comms(self):
        self.flush_channels()
        self.run_cell(
            'comms.registerTarget("echo", (comm, data) => {\n'
            '  comm.send({ opened: data });\n'
            '  comm.onMsg((d) => comm.send({ echo: d }));\n'
            "});"
        )
        session = self.kc.session
        open_msg = session.msg("comm_open", {"comm_id": "c1", "target_name": "echo", "data": {"hi": 1}})
        self.kc.shell_channel.send(open_msg)
        got = self.wait_iopub(lambda m: m["msg_type"] == "comm_msg")
        self.assertEqual(got["content"]["data"], {"opened": {"hi": 1}})
        info = self.kc.comm_info(target_name="echo", reply=True, timeout=TIMEOUT) if hasattr(self.kc, "comm_info") else None
        if info is None:
            mid = self.kc.shell_channel.send(session.msg("comm_info_request", {"target_name": "echo"}))
            info = self.kc.get_shell_msg(timeout=TIMEOUT)
        self.assertEqual(info["msg_type"], "comm_info_reply")
        self.assertEqual(info["content"]["comms"], {"c1": {"target_name": "echo"}})
        self.kc.shell_channel.send(session.msg("comm_msg", {"comm_id": "c1", "data": {"x": 2}}))
        got = self.wait_iopub(lambda m: m["msg_type"] == "comm_msg" and "echo" in m["content"]["data"])
        self.assertEqual(got["content"]["data"], {"echo": {"x": 2}})
        self.kc.shell_channel.send(session.msg("comm_close", {"comm_id": "c1", "data": {}}))
        self.kc.shell_channel.send(session.msg("comm_info_request", {}))
        info = self.wait_shell(lambda m: m["msg_type"] == "comm_info_reply")
        self.assertEqual(info["content"]["comms"], {})
        # unknown targets are closed right away
        self.kc.shell_channel.send(session.msg("comm_open", {"comm_id": "c2", "target_name": "nope", "data": {}}))
        got = self.wait_iopub(lambda m: m["msg_type"] == "comm_close")
        self.assertEqual(got["content"]["comm_id"], "c2")

    def wait_iopub(self, pred, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.kc.get_iopub_msg(timeout=timeout)
            if pred(m):
                return m
        raise AssertionError("no matching iopub message")

    def wait_shell(self, pred, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.kc.get_shell_msg(timeout=timeout)
            if pred(m):
                return m
        raise AssertionError("no matching shell message")

    def test_mtlkit_interrupt_by_message(self):
        self.assertEqual(self.km.kernel_spec.interrupt_mode, "message")
        for code in [
            "while (true) {}",
            "await new Promise(() => {})",
            "for (;;) { await new Promise((r) => setTimeout(r, 5)); }",
        ]:
            with self.subTest(code=code):
                self.flush_channels()
                msg_id = self.kc.execute(code)
                self.wait_iopub(lambda m: m["msg_type"] == "execute_input" and m["parent_header"]["msg_id"] == msg_id)
                time.sleep(0.3)
                self.km.interrupt_kernel()
                reply = self.shell_reply(msg_id)
                self.assertEqual(reply["content"]["status"], "error")
                self.assertEqual(reply["content"]["ename"], "Interrupted")
                self.flush_channels()
                reply, _ = self.run_cell("'alive'")
                self.assertEqual(reply["content"]["status"], "ok")

    def test_mtlkit_interrupt_by_signal(self):
        self.flush_channels()
        self.run_cell("'warm'")
        msg_id = self.kc.execute("let spins = 0;\nfor (;;) { spins++; }")
        self.wait_iopub(lambda m: m["msg_type"] == "execute_input" and m["parent_header"]["msg_id"] == msg_id)
        time.sleep(0.3)
        self.km.signal_kernel(signal.SIGINT)
        reply = self.shell_reply(msg_id)
        self.assertEqual(reply["content"]["ename"], "Interrupted")

    def test_mtlkit_rejects_bad_signature(self):
        self.flush_channels()
        info = self.km.get_connection_info()
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(f"tcp://{info['ip']}:{info['shell_port']}")
        try:
            forged = Session(key=b"not-the-key", signature_scheme="hmac-sha256")
            forged.send(sock, "execute_request", {"code": "globalThis.forged = 1", "silent": False})
            self.assertEqual(sock.poll(1000), 0, "the kernel answered a forged message")
        finally:
            sock.close()
        reply, outputs = self.run_cell("typeof (globalThis as any).forged")
        self.assertEqual(self.of_type(outputs, "execute_result")[0]["content"]["data"]["text/plain"], "'undefined'")

    def test_zz_restart_keeps_history(self):
        self.flush_channels()
        self.run_cell("'before restart'")
        self.km.restart_kernel()
        self.kc.wait_for_ready(timeout=TIMEOUT)
        self.flush_channels()
        reply, _ = self.run_cell("typeof ue")
        self.assertEqual(reply["content"]["execution_count"], 1)
        hist = self.kc.history(hist_access_type="search", pattern="'before restart'", output=False, raw=True, reply=True, timeout=TIMEOUT)
        self.assertGreaterEqual(len(hist["content"]["history"]), 1)
        sessions = {h[0] for h in self.kc.history(hist_access_type="tail", n=1000, output=False, raw=True, reply=True, timeout=TIMEOUT)["content"]["history"]}
        self.assertGreaterEqual(len(sessions), 2)


if __name__ == "__main__":
    unittest.main()
