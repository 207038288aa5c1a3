// The citizen portal's maps, with no third-party code but Leaflet (served from its package):
// - the report form's pin: tap or click the map, drag the pin, use the browser's location, or
//   the GPS position a photo carries; the latitude and longitude inputs stay the truth, so the
//   form works without this script too;
// - the public map of recent reports.
// Settings come from data attributes, so the pages need no inline script.
(function () {
  "use strict";

  function baseMap(element) {
    var data = element.dataset;
    var map = L.map(element).setView(
      [parseFloat(data.lat), parseFloat(data.lon)], parseInt(data.zoom, 10));
    if (data.tiles) {
      L.tileLayer(data.tiles, { maxZoom: 19 }).addTo(map);
    }
    return map;
  }

  function pinMap(element) {
    var map = baseMap(element);
    var lat = document.getElementById("f-lat");
    var lon = document.getElementById("f-lon");
    var status = document.getElementById("location-status");
    var bounds = element.dataset.bounds.split(",").map(parseFloat);
    // With no tiles, the city's box at least shows where a pin belongs.
    L.rectangle([[bounds[1], bounds[0]], [bounds[3], bounds[2]]],
      { color: "#0b5cad", weight: 1, fill: false, dashArray: "4 4", interactive: false }).addTo(map);
    var icon = L.divIcon({ className: "report-pin", iconSize: [28, 28], iconAnchor: [14, 28] });
    var marker = null;

    function place(latlng, move) {
      lat.value = latlng.lat.toFixed(6);
      lon.value = latlng.lng.toFixed(6);
      show(latlng, move);
    }

    function show(latlng, move) {
      if (marker) {
        marker.setLatLng(latlng);
      } else {
        marker = L.marker(latlng, { icon: icon, draggable: true, keyboard: true, title: "" })
          .addTo(map)
          .on("dragend", function () { place(marker.getLatLng(), false); });
      }
      element.dataset.pinned = "yes";
      if (move) {
        map.setView(latlng, Math.max(map.getZoom(), 17));
      }
    }

    function fromInputs() {
      var y = parseFloat(lat.value.replace(",", "."));
      var x = parseFloat(lon.value.replace(",", "."));
      if (isFinite(y) && isFinite(x) && Math.abs(y) <= 90 && Math.abs(x) <= 180) {
        show(L.latLng(y, x), true);
      }
    }

    map.on("click", function (event) { place(event.latlng, false); });
    lat.addEventListener("change", fromInputs);
    lon.addEventListener("change", fromInputs);
    fromInputs();

    var locate = document.getElementById("use-location");
    if (locate && navigator.geolocation) {
      locate.hidden = false;
      locate.addEventListener("click", function () {
        status.textContent = element.dataset.locating;
        navigator.geolocation.getCurrentPosition(function (position) {
          status.textContent = "";
          place(L.latLng(position.coords.latitude, position.coords.longitude), true);
        }, function () {
          status.textContent = element.dataset.noLocation;
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
    }

    var photos = document.getElementById("f-photos");
    var offer = document.getElementById("photo-place");
    if (photos && offer && window.DataView && window.Blob && Blob.prototype.arrayBuffer) {
      photos.addEventListener("change", function () {
        offer.hidden = true;
        var file = photos.files && photos.files[0];
        if (!file) {
          return;
        }
        // EXIF sits at the start of a JPEG: the first 256 KB, not the whole photo.
        file.slice(0, 262144).arrayBuffer().then(function (buffer) {
          var found = exifGps(buffer);
          if (!found) {
            return;
          }
          offer.querySelector("span").textContent =
            offer.dataset.text + " " + found[0].toFixed(6) + ", " + found[1].toFixed(6);
          offer.hidden = false;
          offer.querySelector("button").onclick = function () {
            place(L.latLng(found[0], found[1]), true);
            offer.hidden = true;
          };
        });
      });
    }
  }

  // [latitude, longitude] from a JPEG's EXIF GPS block, or null. Enough of TIFF to read
  // two rationals triplets and their N/S, E/W references; anything unexpected gives null.
  function exifGps(buffer) {
    try {
      var view = new DataView(buffer);
      if (view.getUint16(0) !== 0xFFD8) {
        return null;
      }
      var offset = 2;
      while (offset + 10 <= view.byteLength) {
        var marker = view.getUint16(offset);
        if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) {
          return null;
        }
        if (marker === 0xFFE1 && view.getUint32(offset + 4) === 0x45786966) {
          return gpsFromTiff(view, offset + 10);
        }
        offset += 2 + view.getUint16(offset + 2);
      }
    } catch (e) {
      return null;
    }
    return null;
  }

  function gpsFromTiff(view, start) {
    var little = view.getUint16(start) === 0x4949;
    function u16(at) { return view.getUint16(start + at, little); }
    function u32(at) { return view.getUint32(start + at, little); }
    function entries(ifd, each) {
      var count = u16(ifd);
      for (var i = 0; i < count; i++) {
        each(ifd + 2 + i * 12);
      }
    }
    var gpsIfd = null;
    entries(u32(4), function (entry) {
      if (u16(entry) === 0x8825) {
        gpsIfd = u32(entry + 8);
      }
    });
    if (gpsIfd === null) {
      return null;
    }
    var tags = {};
    entries(gpsIfd, function (entry) {
      var tag = u16(entry);
      if (tag === 1 || tag === 3) {
        tags[tag] = String.fromCharCode(view.getUint8(start + entry + 8));
      } else if ((tag === 2 || tag === 4) && u16(entry + 2) === 5 && u32(entry + 4) === 3) {
        var at = u32(entry + 8);
        var parts = [0, 1, 2].map(function (k) { return u32(at + k * 8) / u32(at + k * 8 + 4); });
        tags[tag] = parts[0] + parts[1] / 60 + parts[2] / 3600;
      }
    });
    if (!isFinite(tags[2]) || !isFinite(tags[4])) {
      return null;
    }
    var lat = tags[1] === "S" ? -tags[2] : tags[2];
    var lon = tags[3] === "W" ? -tags[4] : tags[4];
    return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? [lat, lon] : null;
  }

  function publicMap(element) {
    var map = baseMap(element);
    var layer = L.layerGroup().addTo(map);
    var pending = null;

    function popup(p) {
      var box = document.createElement("div");
      var link = document.createElement("a");
      link.href = "/track/" + encodeURIComponent(p.code);
      link.textContent = p.code;
      box.appendChild(link);
      [p.service, p.status_label, p.created].forEach(function (text) {
        box.appendChild(document.createElement("br"));
        box.appendChild(document.createTextNode(text));
      });
      return box;
    }

    function reload() {
      if (pending) {
        pending.abort();
      }
      pending = new AbortController();
      var b = map.getBounds();
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (v) { return Math.max(-180, Math.min(180, v)).toFixed(5); }).join(",");
      fetch(element.dataset.reports + "?bbox=" + bbox,
        { headers: { Accept: "application/json" }, signal: pending.signal })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (geojson) {
          if (!geojson) {
            return;
          }
          layer.clearLayers();
          L.geoJSON(geojson, {
            pointToLayer: function (feature, latlng) {
              return L.circleMarker(latlng, {
                radius: 8, weight: 2, className: "incident status-" + feature.properties.status,
              }).bindPopup(popup(feature.properties));
            },
          }).eachLayer(function (marker) { layer.addLayer(marker); });
          element.dataset.loaded = String(geojson.features.length);
        })
        .catch(function () {});
    }

    map.on("moveend", reload);
    reload();
  }

  function start() {
    if (typeof L === "undefined") {
      return;
    }
    [["pin-map", pinMap], ["reports-map", publicMap]].forEach(function (pair) {
      var element = document.getElementById(pair[0]);
      if (element && !element.dataset.ready) {
        element.dataset.ready = "yes";
        pair[1](element);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:afterSettle", start);
  if (document.readyState !== "loading") {
    start();
  }
})();
