#!/usr/bin/env python3
"""Generates the TouchOSC (Mk2) layout ui/advinst.tosc from ui/layout.json.

A .tosc file is zlib-compressed XML (<lexml version="3">: nodes with properties, values, OSC
messages and children). Standard library only; the output is deterministic (node IDs are UUIDv5
of the node names), so the shipped file can be checked against its source.

    ui/make_tosc.py [--layout ui/layout.json] [--out ui/advinst.tosc]
    ui/make_tosc.py --addresses FILE.tosc   print every OSC address a layout uses
"""
import argparse
import json
import os
import re
import sys
import uuid
import zlib
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
NS = uuid.UUID("6f0c1c1e-8a55-4b53-9d3c-61647669e573")

# The root script: subscribes on start and spreads the feedback over the meters and labels.
SCRIPT = r"""
function init()
  sendOSC('/advinst/subscribe')
end

local function set_x(name, v)
  local c = root:findByName(name, true)
  if c and v == v then c.values.x = math.max(0, math.min(1, v)) end
end

local function set_text(name, text)
  local c = root:findByName(name, true)
  if c then c.values.text = text end
end

function onReceiveOSC(message, connections)
  local path, args = message[1], message[2]
  if path == '/advinst/probs' then
    local stream = args[1].value
    for k = 1, 12 do set_x(stream .. '_p' .. k, args[k + 1].value) end
  elseif path == '/advinst/prediction' then
    set_text(args[1].value .. '_label', string.format('%s: %s %.2f', args[1].value, args[2].value, args[3].value))
  elseif path == '/advinst/attack' then
    local snr = args[3].value
    if snr < 1e9 then set_x('snr', snr / SNR_FULL_SCALE) end
    set_text('attack_label', string.format('segment %d: %s, %d/%d windows, %.1f dB, %d it, hears %s',
             args[1].value, args[2].value, args[7].value, args[6].value, snr, args[4].value, args[5].value))
  end
  return false
end
"""


def cdata(s):
    return "<![CDATA[%s]]>" % s


def prop(kind, key, value):
    if kind == "r":
        x, y, w, h = value
        v = "<x>%g</x><y>%g</y><w>%g</w><h>%g</h>" % (x, y, w, h)
    elif kind == "c":
        v = "<r>%g</r><g>%g</g><b>%g</b><a>%g</a>" % tuple(value)
    elif kind == "s":
        v = cdata(value)
    else:
        v = str(value)
    return "<property type='%s'><key>%s</key><value>%s</value></property>" % (kind, cdata(key), v)


def partial(kind, conversion, value, lo=0, hi=1):
    return ("<partial><type>%s</type><conversion>%s</conversion><value>%s</value>"
            "<scaleMin>%r</scaleMin><scaleMax>%r</scaleMax></partial>" % (kind, conversion, cdata(value), lo, hi))


def osc(address, args, trigger="ANY", send=1, receive=0):
    return ("<osc><enabled>1</enabled><send>%d</send><receive>%d</receive><feedback>0</feedback>"
            "<connections>1111111111</connections><triggers><trigger><var>%s</var><condition>%s</condition>"
            "</trigger></triggers><path>%s</path><arguments>%s</arguments></osc>"
            % (send, receive, cdata("x"), trigger, partial("CONSTANT", "STRING", address), "".join(args)))


def node(kind, name, frame, color=(0.3, 0.5, 0.9, 1), messages="", children="", extra=""):
    body = [prop("s", "name", name), prop("r", "frame", frame), prop("c", "color", color), extra]
    return ("<node ID='%s' type='%s'><properties>%s</properties><values></values><messages>%s</messages>"
            "<children>%s</children></node>" % (uuid.uuid5(NS, name), kind, "".join(body), messages, children))


def label(name, frame, text):
    return node("LABEL", name, frame, (1, 1, 1, 1), extra=prop("s", "text", text) + prop("b", "interactive", 0))


def build(layout):
    W, H = layout["size"]
    kids = []
    # the 12 targets and "none"
    for i, cls in enumerate(layout["targets"] + ["none"]):
        x, y = 10 + (i % 4) * 125, 40 + (i // 4) * 60
        msg = osc(layout["target_address"], [partial("CONSTANT", "STRING", cls)], trigger="RISE")
        kids.append(node("BUTTON", "target_" + cls, (x, y, 115, 50), messages=msg, extra=prop("i", "buttonType", 0)))
        kids.append(label("target_label_" + cls, (x, y, 115, 50), cls.replace("_", " ")))
    kids.append(label("targets_title", (10, 5, 490, 30), "target"))
    # the method selector
    for i, m in enumerate(layout["methods"]):
        msg = osc(layout["method_address"], [partial("CONSTANT", "STRING", m)], trigger="RISE")
        kids.append(node("BUTTON", "method_" + m, (540 + i * 155, 40, 145, 50), (0.9, 0.6, 0.2, 1), messages=msg))
        kids.append(label("method_label_" + m, (540 + i * 155, 40, 145, 50), m))
    # faders for step, alpha, eps
    for i, f in enumerate(layout["faders"]):
        msg = osc(f["address"], [partial("VALUE", "FLOAT", "x", f["min"], f["max"])])
        kids.append(node("FADER", "fader_" + f["name"], (540 + i * 155, 130, 145, 200), (0.2, 0.8, 0.5, 1), messages=msg))
        kids.append(label("fader_label_" + f["name"], (540 + i * 155, 335, 145, 30),
                          "%s %g..%g" % (f["label"], f["min"], f["max"])))
    # bypass (a toggle sending 0 or 1 as an int)
    msg = osc(layout["bypass"], [partial("VALUE", "INTEGER", "x", 0, 1)])
    kids.append(node("BUTTON", "bypass", (10, 290, 240, 60), (0.9, 0.2, 0.2, 1), messages=msg,
                     extra=prop("i", "buttonType", 1)))
    kids.append(label("bypass_label", (10, 290, 240, 60), "bypass"))
    # meters: 12 probabilities per stream (non-interactive faders) and the last SNR
    for s, stream in enumerate(("in", "out")):
        y0 = 400 + s * 170
        kids.append(label(stream + "_label", (10, y0, 490, 30), stream))
        for k in range(12):
            kids.append(node("FADER", "%s_p%d" % (stream, k + 1), (10 + k * 41, y0 + 35, 36, 120),
                             (0.5, 0.5, 1, 1), extra=prop("b", "interactive", 0)))
    kids.append(node("FADER", "snr", (540, 400, 60, 290), (1, 0.8, 0.2, 1), extra=prop("b", "interactive", 0)))
    kids.append(label("snr_label", (540, 695, 60, 30), "SNR"))
    kids.append(label("attack_label", (610, 400, 400, 60), "no attack yet"))
    script = SCRIPT.replace("SNR_FULL_SCALE", repr(float(layout["meters"]["snr_full_scale_db"])))
    root = node("GROUP", layout["name"], (0, 0, W, H), (0.15, 0.15, 0.15, 1), children="".join(kids),
                extra=prop("s", "script", script))
    return "<?xml version='1.0' encoding='UTF-8'?><lexml version='3'>%s</lexml>" % root


def addresses(xml_text):
    """Every /advinst/... address a layout sends or names in its script."""
    return sorted(set(re.findall(r"/advinst/[A-Za-z0-9_/]+", xml_text)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layout", default=os.path.join(HERE, "layout.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "advinst.tosc"))
    ap.add_argument("--addresses", metavar="TOSC", help="print the addresses used by a .tosc file")
    a = ap.parse_args()
    if a.addresses:
        with open(a.addresses, "rb") as f:
            print("\n".join(addresses(zlib.decompress(f.read()).decode("utf-8"))))
        return 0
    with open(a.layout) as f:
        layout = json.load(f)
    data = zlib.compress(build(layout).encode("utf-8"), 9)
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
