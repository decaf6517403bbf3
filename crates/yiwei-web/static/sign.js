// yiwei: the signature pad of the contract forms (家庭医生签约). Progressive enhancement:
// without this script the pad stays hidden and the paper signature before a witness is the
// record. With it, a finger or mouse draws on the canvas and the drawing is sent as a PNG
// data URL in the hidden field next to it. Served from our own origin (CSP script-src 'self').
(function () {
  "use strict";
  function setUp(pad) {
    var canvas = pad.querySelector("canvas");
    var form = pad.closest("form");
    var output = form && form.querySelector("[data-sign-output]");
    if (!canvas || !output || !canvas.getContext) { return; }
    var ctx = canvas.getContext("2d");
    var drawn = false;
    var last = null;
    pad.hidden = false;
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#1d2630";
    function point(event) {
      var box = canvas.getBoundingClientRect();
      return {
        x: (event.clientX - box.left) * (canvas.width / box.width),
        y: (event.clientY - box.top) * (canvas.height / box.height)
      };
    }
    canvas.addEventListener("pointerdown", function (event) {
      canvas.setPointerCapture(event.pointerId);
      last = point(event);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!last) { return; }
      var next = point(event);
      ctx.beginPath();
      ctx.moveTo(last.x, last.y);
      ctx.lineTo(next.x, next.y);
      ctx.stroke();
      last = next;
      drawn = true;
      event.preventDefault();
    });
    function stop() { last = null; }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    var clear = pad.querySelector("[data-sign-clear]");
    if (clear) {
      clear.addEventListener("click", function () {
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        drawn = false;
        output.value = "";
      });
    }
    form.addEventListener("submit", function () {
      if (drawn) { output.value = canvas.toDataURL("image/png"); }
    });
  }
  document.querySelectorAll("[data-sign-pad]").forEach(setUp);
})();
