#!/usr/bin/env python3
"""Generates the TouchOSC (Mk2) layout ui/advinst.tosc from ui/layout.json.

A .tosc file is zlib-compressed XML (<lexml version="3">): nodes with properties (name, frame,
colours, flags), values (touch, x, and a label's text, as TouchOSC itself saves them), OSC
messages and children. Labels carry their caption as the default of their `text` value, draw no
background (background 0) and have an explicit text colour, so that a caption laid over a button
lets the button show and receive the touch (interactive 0). Standard library only; the output is
deterministic (node IDs are UUIDv5 of the node names), so the shipped file can be checked against
its source (tests/cli_live_ui.sh, tests/check_tosc.py).

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

HERE = os.path.dirname(os.path.abspath(__file__))
NS = uuid.UUID("6f0c1c1e-8a55-4b53-9d3c-61647669e573")

WHITE = (1, 1, 1, 1)
BLACK = (0, 0, 0, 1)

# The root script: subscribes on start and spreads the feedback over the meters and labels;
# /advinst/state lights the selected target and method buttons.
SCRIPT = r"""
local TARGET_ON, TARGET_OFF = Color(0.35, 0.75, 1.0, 1), Color(0.3, 0.5, 0.9, 1)
local METHOD_ON, METHOD_OFF = Color(1.0, 0.8, 0.3, 1), Color(0.9, 0.6, 0.2, 1)
local TARGETS = {TARGET_NAMES}
local METHODS = {METHOD_NAMES}

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

local function light(prefix, names, selected, on, off)
  for _, n in ipairs(names) do
    local c = root:findByName(prefix .. n, true)
    if c then c.color = (n == selected) and on or off end
  end
end

function onReceiveOSC(message, connections)
  local path, args = message[1], message[2]
  if path == '/advinst/probs' then
    local stream = args[1].value
    for k = 1, 12 do set_x(stream .. '_p' .. k, args[k + 1].value) end
  elseif path == '/advinst/prediction' then
    if args[2].value == 'silent' then
      set_text(args[1].value .. '_label', args[1].value .. ': silent')
    else
      set_text(args[1].value .. '_label', string.format('%s: %s %.2f', args[1].value, args[2].value, args[3].value))
    end
  elseif path == '/advinst/attack' then
    local snr = args[3].value
    if snr < 1e9 then set_x('snr', snr / SNR_FULL_SCALE) end
    set_text('attack_label', string.format('segment %d: %s, %d/%d windows, %.1f dB, %d it, hears %s',
             args[1].value, args[2].value, args[7].value, args[6].value, snr, args[4].value, args[5].value))
  elseif path == '/advinst/state' then
    light('target_', TARGETS, string.gsub(args[1].value, ' ', '_'), TARGET_ON, TARGET_OFF)
    light('method_', METHODS, args[2].value, METHOD_ON, METHOD_OFF)
    set_text('state_label', string.format('%s, %s%s', args[1].value, args[2].value,
             args[7].value == 1 and ', BYPASS' or ''))
  end
  return false
end
"""


def cdata(s):
    return "<![CDATA[%s]]>" % s


def prop(kind, key, value):
    if kind == "r":
        v = "<x>%d</x><y>%d</y><w>%d</w><h>%d</h>" % tuple(value)
    elif kind == "c":
        v = "<r>%g</r><g>%g</g><b>%g</b><a>%g</a>" % tuple(value)
    elif kind == "s":
        v = cdata(value)
    else:
        v = str(value)
    return "<property type='%s'><key>%s</key><value>%s</value></property>" % (kind, cdata(key), v)


def value(key, default, locked_default_current=0):
    return ("<value><key>%s</key><locked>0</locked><lockedDefaultCurrent>%d</lockedDefaultCurrent>"
            "<default>%s</default><defaultPull>0</defaultPull></value>"
            % (cdata(key), locked_default_current, cdata(default) if isinstance(default, str) else default))


def partial(kind, conversion, v, lo=0, hi=1):
    return ("<partial><type>%s</type><conversion>%s</conversion><value>%s</value>"
            "<scaleMin>%r</scaleMin><scaleMax>%r</scaleMax></partial>" % (kind, conversion, cdata(v), lo, hi))


def osc(address, args, trigger="ANY"):
    return ("<osc><enabled>1</enabled><send>1</send><receive>0</receive><feedback>0</feedback>"
            "<connections>1111111111</connections><triggers><trigger><var>%s</var><condition>%s</condition>"
            "</trigger></triggers><path>%s</path><arguments>%s</arguments></osc>"
            % (cdata("x"), trigger, partial("CONSTANT", "STRING", address), "".join(args)))


def node(kind, name, frame, props, values, messages="", children=""):
    body = prop("s", "name", name) + prop("r", "frame", frame) + "".join(props)
    return ("<node ID='%s' type='%s'><properties>%s</properties><values>%s</values><messages>%s</messages>"
            "<children>%s</children></node>" % (uuid.uuid5(NS, name), kind, body, "".join(values), messages, children))


def control(kind, name, frame, color, messages="", interactive=1, extra=()):
    """A button or a fader: drawn with its colour, values touch and x."""
    props = [prop("c", "color", color), prop("b", "background", 1), prop("b", "interactive", interactive)] + list(extra)
    return node(kind, name, frame, props, [value("touch", "false"), value("x", 0)], messages)


def label(name, frame, text, color=WHITE, size=14, align=1):
    """A caption: transparent (background 0), not touchable, its text as a value."""
    assert text, name
    props = [prop("c", "color", (0, 0, 0, 0)), prop("b", "background", 0), prop("b", "outline", 0),
             prop("b", "interactive", 0), prop("c", "textColor", color), prop("i", "textSize", size),
             prop("i", "textAlignH", align)]
    return node("LABEL", name, frame, props, [value("touch", "false"), value("text", text, 1)])


def build(layout):
    W, H = layout["size"]
    kids = []
    targets = layout["targets"] + ["none"]
    kids.append(label("targets_title", (10, 5, 490, 30), "target", size=16, align=0))
    for i, cls in enumerate(targets):
        x, y = 10 + (i % 4) * 125, 40 + (i // 4) * 60
        msg = osc(layout["target_address"], [partial("CONSTANT", "STRING", cls)], trigger="RISE")
        kids.append(control("BUTTON", "target_" + cls, (x, y, 115, 50), (0.3, 0.5, 0.9, 1), msg,
                            extra=[prop("i", "buttonType", 0)]))
        kids.append(label("target_label_" + cls, (x, y, 115, 50), cls.replace("_", " "), BLACK, 13))
    kids.append(label("methods_title", (540, 5, 455, 30), "method", size=16, align=0))
    for i, m in enumerate(layout["methods"]):
        frame = (540 + i * 155, 40, 145, 50)
        msg = osc(layout["method_address"], [partial("CONSTANT", "STRING", m)], trigger="RISE")
        kids.append(control("BUTTON", "method_" + m, frame, (0.9, 0.6, 0.2, 1), msg, extra=[prop("i", "buttonType", 0)]))
        kids.append(label("method_label_" + m, frame, m, BLACK, 16))
    for i, f in enumerate(layout["faders"]):
        msg = osc(f["address"], [partial("VALUE", "FLOAT", "x", f["min"], f["max"])])
        kids.append(control("FADER", "fader_" + f["name"], (540 + i * 155, 130, 145, 200), (0.2, 0.8, 0.5, 1), msg))
        kids.append(label("fader_label_" + f["name"], (540 + i * 155, 335, 145, 30),
                          "%s %g..%g" % (f["label"], f["min"], f["max"]), size=12))
    # bypass: a toggle sending 0 or 1 as an int
    msg = osc(layout["bypass"], [partial("VALUE", "INTEGER", "x", 0, 1)])
    kids.append(control("BUTTON", "bypass", (10, 290, 240, 60), (0.9, 0.2, 0.2, 1), msg, extra=[prop("i", "buttonType", 1)]))
    kids.append(label("bypass_label", (10, 290, 240, 60), "bypass", WHITE, 18))
    kids.append(label("state_label", (260, 290, 240, 60), "not connected", size=14))
    # meters: 12 probabilities per stream (non-interactive faders) with the classes' short names
    for s, stream in enumerate(("in", "out")):
        y0 = 400 + s * 185
        kids.append(label(stream + "_label", (10, y0, 490, 30), stream, size=18, align=0))
        for k in range(12):
            x = 10 + k * 41
            kids.append(control("FADER", "%s_p%d" % (stream, k + 1), (x, y0 + 35, 36, 120), (0.5, 0.5, 1, 1),
                                interactive=0))
            kids.append(label("%s_name%d" % (stream, k + 1), (x - 2, y0 + 157, 40, 18), layout["short"][k], size=10))
    kids.append(control("FADER", "snr", (540, 400, 60, 290), (1, 0.8, 0.2, 1), interactive=0))
    kids.append(label("snr_label", (540, 695, 60, 30), "SNR", size=12))
    kids.append(label("attack_label", (610, 400, 404, 90), "no attack yet", size=14, align=0))
    script = (SCRIPT.replace("SNR_FULL_SCALE", repr(float(layout["meters"]["snr_full_scale_db"])))
              .replace("{TARGET_NAMES}", "{%s}" % ", ".join("'%s'" % t for t in targets))
              .replace("{METHOD_NAMES}", "{%s}" % ", ".join("'%s'" % m for m in layout["methods"])))
    root_props = [prop("c", "color", (0.15, 0.15, 0.15, 1)), prop("b", "background", 1), prop("s", "script", script)]
    root = node("GROUP", layout["name"], (0, 0, W, H), root_props, [value("touch", "false")], children="".join(kids))
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
