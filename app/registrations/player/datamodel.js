/* RMTC SCORM data model in the browser: window.RMTCDataModel(rules) interprets the rules exported by
 * app/scorm/datamodel.py (export_rules; the format and the algorithm are in rules.format) and answers
 * exactly as the Python interpreter does, so the player can answer GetValue/SetValue synchronously and
 * the server's validate_commit never refuses what the player accepted.
 *
 *   var model = window.RMTCDataModel(rules);
 *   model.get(cmi, element, hidden)        -> {value: "...", error: 0} or {value: "", error: code}
 *   model.set(cmi, element, value, locked) -> 0 (cmi[key] = value) or the SCORM error code (cmi unchanged)
 *
 * cmi is the flat object element -> string; hidden / locked are optional lists (or Sets) of concrete
 * element names this session may not read / write (shared data buckets). Plain ES2017, no dependencies.
 * tests/scorm/test_datamodel_js.py runs this file in node against the Python interpreter. */
(function (global) {
  "use strict";

  var KEYWORDS = ["_children", "_count", "_version"];
  var INDEX = /^[0-9]+$/;

  function own(obj, key) {
    return obj !== null && obj !== undefined && Object.prototype.hasOwnProperty.call(obj, key);
  }

  function lookup(obj, key) {
    return own(obj, key) ? obj[key] : null;
  }

  function asSet(names) {
    if (names instanceof Set) return names;
    return new Set(names ? Array.from(names) : []);
  }

  /* A data model error on its way to the caller (internal). */
  function Failure(code) { this.code = code; }

  function RMTCDataModel(rules) {
    var elements = rules.elements;
    var arrays = rules.arrays;
    var children = rules.children;
    var types = rules.types;
    var parametric = rules.parametric || {};
    var compiled = new Map();
    var known = new Set();

    [elements, arrays, children, parametric].forEach(function (table) {
      Object.keys(table).forEach(function (name) {
        var parts = name.split(".");
        for (var i = 1; i <= parts.length; i++) known.add(parts.slice(0, i).join("."));
      });
    });

    function fail(kind) { return new Failure(rules.codes[kind]); }

    /* Python's re.match (at the start) and re.fullmatch, for any pattern of the common subset. */
    function regex(pattern, whole) {
      var source = "^(?:" + pattern + ")" + (whole ? "$" : "");
      var rx = compiled.get(source);
      if (!rx) { rx = new RegExp(source); compiled.set(source, rx); }
      return rx;
    }

    function resolve(element, op) {
      if (typeof element !== "string" || element === "") throw fail(op === "get" ? "empty_get" : "empty_set");
      var prefixes = Object.keys(parametric);
      for (var p = 0; p < prefixes.length; p++) {
        var prefix = prefixes[p];
        if (element.startsWith(prefix + ".")) {
          if (regex(parametric[prefix].param, true).test(element.slice(prefix.length + 1))) {
            return { norm: prefix + ".{target=}", indices: [], key: element, keyword: null, spec: parametric[prefix].spec };
          }
          throw fail("undefined");
        }
      }
      var norm = [], key = [], indices = [];
      element.split(".").forEach(function (seg) {
        if (INDEX.test(seg)) {
          var canonical = seg.replace(/^0+(?=[0-9])/, "");
          indices.push(canonical);
          norm.push("n");
          key.push(canonical);
        } else if (seg === "n") {
          throw fail("undefined");
        } else {
          norm.push(seg);
          key.push(seg);
        }
      });
      var name = norm.join(".");
      var last = norm[norm.length - 1];
      if (KEYWORDS.indexOf(last) >= 0 && name !== "cmi._version") {
        return { norm: norm.slice(0, -1).join("."), indices: indices, key: key.slice(0, -1).join("."), keyword: last, spec: null };
      }
      return { norm: name, indices: indices, key: key.join("."), keyword: null, spec: lookup(elements, name) };
    }

    /* Substitute indices for the "n" segments of a normalized name (prefix-wise). */
    function concrete(norm, indices) {
      var i = 0;
      return norm.split(".").map(function (seg) {
        return seg === "n" && i < indices.length ? String(indices[i++]) : seg;
      }).join(".");
    }

    /* [normalized array path, concrete array path, index] for every index of a name, outer first. */
    function arrayLevels(norm, indices) {
      var parts = norm.split("."), levels = [], k = 0;
      for (var i = 0; i < parts.length; i++) {
        if (parts[i] === "n") {
          var arrNorm = parts.slice(0, i).join(".");
          levels.push([arrNorm, concrete(arrNorm, indices.slice(0, k)), Number(indices[k])]);
          k++;
        }
      }
      return levels;
    }

    function count(cmi, array) {
      var prefix = array + ".", seen = new Set();
      Object.keys(cmi).forEach(function (key) {
        if (key.startsWith(prefix)) {
          var head = key.slice(prefix.length).split(".", 1)[0];
          if (INDEX.test(head)) seen.add(head);
        }
      });
      return seen.size;
    }

    function checkType(tname, value) {
      var t = types[tname];
      var m;
      if (own(t, "vocab") && t.vocab.indexOf(value) < 0) throw fail("type");
      if (own(t, "regex") && !regex(t.regex, true).test(value)) throw fail("type");
      if (own(t, "max_length")) {
        var body = value;
        if (own(t, "length_strip") && (m = regex(t.length_strip, false).exec(body))) body = body.slice(m[0].length);
        if (Array.from(body).length > t.max_length) throw fail("length"); // code points, as Python's len
      }
      if ((own(t, "min") || own(t, "max")) && value !== "") {
        var x = Number(value);
        if ((own(t, "min") && x < t.min) || (own(t, "max") && x > t.max)) throw fail("range");
      }
      var items = t.items;
      if (items && Object.keys(items).length) {
        var rest = value;
        if (own(items, "prefix") && (m = regex(items.prefix, false).exec(rest))) rest = rest.slice(m[0].length);
        var parts = items.split ? rest.split(items.split) : [rest];
        if (items.unique && new Set(parts).size !== parts.length) throw fail("type");
        if (own(items, "range")) {
          var range = regex(items.range, true);
          parts.forEach(function (part) {
            var r = range.exec(part);
            if (r && r[1] && r[2] && Number(r[1]) > Number(r[2])) throw fail("type");
          });
        }
      }
    }

    function typeOf(spec, indices, cmi, typedValue) {
      if (!own(spec, "typed_by")) return spec.type;
      if (typedValue === null || typedValue === undefined) typedValue = lookup(cmi, concrete(spec.typed_by, indices));
      if (typedValue !== null && own(spec.types_by_value, typedValue)) return spec.types_by_value[typedValue];
      if (spec.fallback_type) return spec.fallback_type;
      throw fail("dependency"); // not reached: "requires" names the typing element wherever there is no fallback
    }

    function arrayMax(arrNorm, indices, cmi, typedValue) {
      var a = arrays[arrNorm];
      var by = a.max_by_type;
      if (by) {
        var tv = typedValue !== null && typedValue !== undefined ? typedValue : lookup(cmi, concrete(by.typed_by, indices));
        if (tv !== null && own(by.limits, tv)) return by.limits[tv];
      }
      return a.max;
    }

    function uniqueApplies(spec, typedValue) {
      if (!spec.unique) return false;
      var only = lookup(spec, "unique_if_typed");
      return only === null || (typedValue !== null && only.indexOf(typedValue) >= 0);
    }

    /* Keys of the same element in the other records of the innermost array. */
    function siblingKeys(norm, indices, cmi) {
      var levels = arrayLevels(norm, indices);
      var innermost = levels[levels.length - 1];
      var out = [];
      for (var j = 0, n = count(cmi, innermost[1]); j < n; j++) {
        if (j !== innermost[2]) out.push(concrete(norm, indices.slice(0, -1).concat([j])));
      }
      return out;
    }

    function checkGetIndices(ref, cmi) {
      arrayLevels(ref.norm, ref.indices).forEach(function (level) {
        if (level[2] >= count(cmi, level[1])) throw fail("get_out_of_range");
      });
    }

    function readValue(cmi, element, hidden) {
      var ref = resolve(element, "get");
      if (ref.keyword !== null) {
        if (!known.has(ref.norm)) throw fail("undefined");
        checkGetIndices(ref, cmi);
        if (ref.keyword === "_children") {
          if (own(children, ref.norm)) return children[ref.norm];
          throw fail("no_children");
        }
        if (ref.keyword === "_count") {
          if (own(arrays, ref.norm)) return String(count(cmi, ref.key));
          throw fail("no_count");
        }
        throw fail(own(children, ref.norm) ? "no_children" : "undefined"); // _version exists only as cmi._version
      }
      var spec = ref.spec;
      if (spec === null) throw fail("undefined");
      if (spec.access === "wo" || hidden.has(ref.key)) throw fail("write_only");
      if (own(spec, "value")) return spec.value;
      checkGetIndices(ref, cmi);
      var ev = spec.evaluate;
      if (ev && own(cmi, ev.threshold)) {
        if (!own(cmi, ev.measure)) return ev.unmeasured;
        return Number(cmi[ev.measure]) >= Number(cmi[ev.threshold]) ? ev.reached : ev.not_reached;
      }
      if (own(cmi, ref.key)) return cmi[ref.key];
      if (own(spec, "default")) return spec["default"];
      if (rules.codes.not_initialized) throw fail("not_initialized");
      return ""; // SCORM 1.2: an unset element reads as ""
    }

    function recheck(cmi, target, indices, newType) {
      var tspec = elements[target];
      var keys = [];
      if (target.split(".").filter(function (s) { return s === "n"; }).length > indices.length) {
        var cut = target.lastIndexOf(".n.");
        var arrNorm = cut < 0 ? target : target.slice(0, cut);
        var n = count(cmi, concrete(arrNorm, indices));
        if (n > arrayMax(arrNorm, indices, cmi, newType)) throw fail("type");
        for (var j = 0; j < n; j++) keys.push(concrete(target, indices.concat([j])));
      } else {
        keys.push(concrete(target, indices));
      }
      var values = keys.filter(function (k) { return own(cmi, k); }).map(function (k) { return cmi[k]; });
      var tname = typeOf(tspec, indices, cmi, newType);
      values.forEach(function (v) { checkType(tname, v); });
      if (uniqueApplies(tspec, newType) && new Set(values).size !== values.length) throw fail("type");
    }

    function checkSet(cmi, ref, value) {
      var spec = ref.spec;
      arrayLevels(ref.norm, ref.indices).forEach(function (level) {
        var n = count(cmi, level[1]), idx = level[2];
        if (idx > n || (idx === n && arrays[level[0]].fixed)) throw fail("set_out_of_order");
        if (idx === n && n >= arrayMax(level[0], ref.indices, cmi)) throw fail("count_limit");
      });
      (spec.requires || []).forEach(function (req) {
        if (!own(cmi, concrete(req, ref.indices))) throw fail("dependency");
      });
      var typedValue = own(spec, "typed_by") ? lookup(cmi, concrete(spec.typed_by, ref.indices)) : null;
      checkType(typeOf(spec, ref.indices, cmi), value);
      if (spec.write_once && own(cmi, ref.key) && cmi[ref.key] !== value) throw fail("write_once");
      if (uniqueApplies(spec, typedValue)) {
        siblingKeys(ref.norm, ref.indices, cmi).forEach(function (k) {
          if (own(cmi, k) && cmi[k] === value) throw fail("unique");
        });
      }
      (spec.recheck || []).forEach(function (target) { recheck(cmi, target, ref.indices, value); });
    }

    function writeValue(cmi, element, value, locked) {
      var ref = resolve(element, "set");
      if (ref.keyword !== null) throw fail(known.has(ref.norm) ? "keyword_set" : "undefined");
      var spec = ref.spec;
      if (spec === null) throw fail("undefined");
      if (own(spec, "value")) throw fail("keyword_set"); // cmi._version
      if (spec.access === "ro" || locked.has(ref.key)) throw fail("read_only");
      if (typeof value !== "string") throw fail("type");
      checkSet(cmi, ref, value);
      cmi[ref.key] = value;
    }

    function answer(fn) {
      try {
        return fn();
      } catch (e) {
        if (e instanceof Failure) return e;
        throw e;
      }
    }

    return {
      version: rules.version,
      get: function (cmi, element, hidden) {
        var result = answer(function () { return readValue(cmi, element, asSet(hidden)); });
        return result instanceof Failure ? { value: "", error: result.code } : { value: result, error: 0 };
      },
      set: function (cmi, element, value, locked) {
        var result = answer(function () { return writeValue(cmi, element, value, asSet(locked)); });
        return result instanceof Failure ? result.code : 0;
      }
    };
  }

  global.RMTCDataModel = RMTCDataModel;
})(window);
