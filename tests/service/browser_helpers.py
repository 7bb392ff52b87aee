"""A real headless Chromium for the console tests (Debian's ``chromium``, driven by Playwright).

Playwright's own browser download is never used (``executable_path``); when the system browser
is missing the session installs it with apt-get, as the project's machines allow (root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
#: No background traffic: the closed network refuses it, and a test must not depend on it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
INSTALL_DEADLINE_SECONDS = 900


def ensure_chromium() -> Path:
    """The system Chromium, installed (apt-get, as root) when it is not there yet."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(
            f"{CHROMIUM} is missing and cannot be installed here: apt-get install chromium"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=INSTALL_DEADLINE_SECONDS
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
    if not CHROMIUM.exists():
        raise RuntimeError(f"apt-get install chromium did not provide {CHROMIUM}")
    return CHROMIUM


# WCAG 2.x contrast of every element that holds text, against its nearest opaque background.
CONTRAST_JS = """
() => {
  function rgb(s) { const m = s.match(/[\\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 1]; }
  function lum(c) {
    const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function bg(el) {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0.5) return c;
    }
    return [255, 255, 255, 1];
  }
  const worst = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const st = getComputedStyle(el);
    if (!own || st.visibility === 'hidden' || st.display === 'none' || !el.offsetParent) continue;
    const a = lum(rgb(st.color)), b = lum(bg(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const what = el.tagName + ' ' + el.textContent.trim().slice(0, 40);
    if (ratio < 4.5) worst.push(what + ' ' + ratio.toFixed(2));
  }
  return worst;
}
"""
