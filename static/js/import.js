// The CSV import form: uploads to /api/products/import with XHR so that the upload shows in a
// progress bar, then says what was imported or lists each refused line. Without this script
// the form posts to the page, which imports the same way.
(function () {
  "use strict";
  var form = document.querySelector("form.import-form");
  if (!form) return;
  var bar = document.querySelector(".import-progress");
  var status = document.querySelector(".import-status");
  var errors = document.querySelector(".import-errors");
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");

  function showErrors(body) {
    errors.textContent = "";
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = (body && body.error) || "The import failed.";
    errors.appendChild(p);
    var details = (body && body.details) || {};
    var keys = Object.keys(details);
    if (!keys.length) return;
    var list = document.createElement("ul");
    list.className = "errors";
    keys.forEach(function (key) {
      var item = document.createElement("li");
      var strong = document.createElement("strong");
      strong.textContent = key;
      item.appendChild(strong);
      item.appendChild(document.createTextNode(": " + details[key]));
      list.appendChild(item);
    });
    errors.appendChild(list);
    if (body.more) {
      var more = document.createElement("p");
      more.textContent = "… and " + body.more + " more lines with errors.";
      errors.appendChild(more);
    }
  }

  form.addEventListener("submit", function (event) {
    var input = form.querySelector("input[type=file]");
    if (!input.files.length) return;
    event.preventDefault();
    var data = new FormData();
    data.append("file", input.files[0]);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("data-api"));
    xhr.setRequestHeader("X-CSRFToken", token);
    xhr.setRequestHeader("Accept", "application/json");
    bar.hidden = false;
    bar.value = 0;
    errors.textContent = "";
    status.textContent = "Uploading…";
    form.querySelector("button").disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      status.textContent = "Uploaded; checking and importing…";
    });
    xhr.addEventListener("load", function () {
      form.querySelector("button").disabled = false;
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 200 && body) {
        status.textContent = "Imported: " + body.created + " new, " + body.updated + " updated.";
      } else {
        status.textContent = "Nothing was imported.";
        showErrors(body);
      }
    });
    xhr.addEventListener("error", function () {
      form.querySelector("button").disabled = false;
      status.textContent = "The upload failed; nothing was imported.";
    });
    xhr.send(data);
  });
})();
