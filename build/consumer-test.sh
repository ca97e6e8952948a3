#!/usr/bin/env bash
# Consumer test (README, "Quick start"): proves the NuGet package works for someone who never clones this repository.
# 1. Packs the solution into a scratch feed and checks what was packed (only packable projects; metadata; symbols).
# 2. Creates a fresh console app outside the repository, adds the package from that feed (the machine's own package
#    sources stay on for everything else) and the backends with exactly the README's `dotnet add package` lines.
# 3. Builds and publishes it, checks that the package's buildTransitive targets (with the task they load from tasks/)
#    patched libLibTorchSharp.so where the system libstdc++ lacks GLIBCXX_3.4.32, then runs the README's quick-start
#    code, verbatim, on the Fashion-MNIST subset in examples/Shared/data, followed by checks: an accuracy floor,
#    and model.zip loads back and scores the same.
# Usage: build/consumer-test.sh [--no-build]   (--no-build: the solution is already built in Release, as build/test.sh does)
# Set EDP_KEEP_CONSUMER=1 to keep the scratch folder.
set -euo pipefail
pack_args=()
case "${1:-}" in
  --no-build) pack_args+=(--no-build) ;;
  "") ;;
  *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
esac
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

# Package ids `dotnet pack` of the solution must produce, and nothing else.
expected_packages="Microsoft.ML.Edp"

fail() { echo "consumer-test: FAILED: $*" >&2; exit 1; }

work="$(mktemp -d)"
if [ "${EDP_KEEP_CONSUMER:-}" = 1 ]; then echo "consumer-test: scratch folder $work"; else trap 'rm -rf "$work"' EXIT; fi
feed="$work/feed"
app="$work/EdpQuickStart"

# --- 1. Pack ---------------------------------------------------------------------------------------------------
dotnet pack Microsoft.ML.Edp.sln -c Release "${pack_args[@]}" -o "$feed" -v quiet -nologo
packed="$(cd "$feed" && ls *.nupkg | sed -E 's/\.[0-9]+\.[0-9]+\.[0-9]+([-.][0-9A-Za-z.-]*)?\.nupkg$//' | sort | tr '\n' ' ')"
[ "$packed" = "$(echo "$expected_packages" | tr ' ' '\n' | sort | tr '\n' ' ')" ] \
  || fail "packed '$packed', expected '$expected_packages' (tests, examples and benchmarks must set IsPackable=false)"

nupkg="$(ls "$feed"/Microsoft.ML.Edp.[0-9]*.nupkg)"
version="$(basename "$nupkg" .nupkg | sed 's/^Microsoft\.ML\.Edp\.//')"
props_version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)"
[ "$version" = "$props_version" ] || fail "package version $version differs from Directory.Build.props ($props_version)"
[ -f "$feed/Microsoft.ML.Edp.$version.snupkg" ] || fail "no symbol package Microsoft.ML.Edp.$version.snupkg"
# Listings go through variables: `unzip | grep -q` fails under pipefail when grep exits before unzip has written all.
symbols="$(unzip -l "$feed/Microsoft.ML.Edp.$version.snupkg")"
grep -q ' lib/net10.0/Microsoft.ML.Edp.pdb$' <<<"$symbols" || fail "the symbol package holds no pdb"
contents="$(unzip -l "$nupkg")"
for entry in lib/net10.0/Microsoft.ML.Edp.dll lib/net10.0/Microsoft.ML.Edp.xml PACKAGE.md buildTransitive/Microsoft.ML.Edp.targets \
             tasks/netstandard2.0/Microsoft.ML.Edp.Build.dll; do
  grep -q " $entry\$" <<<"$contents" || fail "$(basename "$nupkg") lacks $entry"
done
cmp -s <(unzip -p "$nupkg" buildTransitive/Microsoft.ML.Edp.targets) src/Microsoft.ML.Edp/buildTransitive/Microsoft.ML.Edp.targets \
  || fail "the packed targets differ from src/Microsoft.ML.Edp/buildTransitive/Microsoft.ML.Edp.targets"
nuspec="$(unzip -p "$nupkg" Microsoft.ML.Edp.nuspec)"
for field in '<license type="expression">MIT</license>' '<readme>PACKAGE.md</readme>' '<description>' '<tags>' '<repository type="git"' '<authors>'; do
  grep -qF "$field" <<<"$nuspec" || fail "the nuspec lacks $field"
done
# The library depends on managed packages only; the app picks the natives.
if grep -qE 'id="(libtorch|TorchSharp-c|Microsoft\.ML\.OnnxRuntime")' <<<"$nuspec" || grep -qE 'id="Microsoft\.ML\.OnnxRuntime\.Gpu' <<<"$nuspec"; then
  fail "the package depends on a native backend"
fi
echo "consumer-test: packed $(basename "$nupkg") (+ .snupkg) with full metadata."

# The global packages folder keeps the first copy of a version forever; drop ours so the app gets this build.
global_packages="$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')"
rm -rf "${global_packages%/}/microsoft.ml.edp/$version"

# --- 2. A fresh app, outside the repository, set up as the README says --------------------------------------------
mkdir -p "$app"
cd "$app"
# No <clear/>: the machine's configured sources still serve everything but this package.
cat > nuget.config <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="edp-consumer-test" value="$feed" />
  </packageSources>
</configuration>
EOF
dotnet new console --force -o . -n EdpQuickStart >/dev/null
# The README's `dotnet add package` lines, as written there (its bash block between the quick-start markers).
readme_block() { sed -n "/<!-- quick-start:$1 -->/,/<!-- \/quick-start:$1 -->/p" "$repo/README.md" | sed '1,2d;$d' | sed '$d'; }
add_lines="$(readme_block setup | grep -E '^dotnet add package ' | sed 's/[[:space:]]*#.*$//')"
[ "$(wc -l <<<"$add_lines")" -ge 3 ] || fail "README's quick start has fewer than three 'dotnet add package' lines"
while IFS= read -r line; do
  echo "consumer-test: $line"
  eval "$line" >/dev/null
done <<<"$add_lines"
# `dotnet add package Microsoft.ML.Edp` takes the highest version any source has: it must be the one just packed.
grep -q "Include=\"Microsoft.ML.Edp\" Version=\"$version\"" EdpQuickStart.csproj \
  || fail "the app did not get Microsoft.ML.Edp $version from the scratch feed: $(grep 'Microsoft.ML.Edp' EdpQuickStart.csproj)"
mkdir -p data
cp "$repo"/examples/Shared/data/*.gz data/

# The README's quick-start code, verbatim, with the checks after its statements (top-level statements must come before
# the type declarations that close the quick start).
readme_block code > quickstart.cs
grep -q 'CompressEdp' quickstart.cs || fail "could not read the quick-start code from README.md"
cat > checks.cs <<'EOF'

// ---- consumer-test checks, appended to the README's quick start ----
const double AccuracyFloor = 0.70; // 5 epochs on the 3,000-image subset at half the MACs (the default): 79.6 ± 1.0% over 3 seeds, 80.9% uncompressed (benchmarks/results/compression-subset.md)
if (metrics.MicroAccuracy < AccuracyFloor)
    throw new Exception($"consumer-test: accuracy {metrics.MicroAccuracy:P2} is below the {AccuracyFloor:P0} floor.");
if (!File.Exists("model.zip"))
    throw new Exception("consumer-test: model.zip was not saved.");
var loaded = Microsoft.ML.Edp.EdpModel.Load(ml, "model.zip", out _);
var reloaded = ml.MulticlassClassification.Evaluate(loaded.Transform(test));
if (reloaded.MicroAccuracy != metrics.MicroAccuracy)
    throw new Exception($"consumer-test: the loaded model.zip scores {reloaded.MicroAccuracy:P2}, the fitted model {metrics.MicroAccuracy:P2}.");
var report = Microsoft.ML.Edp.EdpModel.ReadReport("model.zip");
if (!report.Compressed || report.Layers.Length != 7 || report.MacsAfter > report.MacsBefore || report.ClassNames.Length != 10)
    throw new Exception($"consumer-test: unexpected report in model.zip:\n{report.ToJson()}");
Console.WriteLine($"consumer-test: model.zip reloads with accuracy {reloaded.MicroAccuracy:P2}; its report covers {report.Layers.Length} layers.");

EOF
types_at="$(grep -nE '^((public|internal|sealed|static) )*(class|record|struct) ' quickstart.cs | head -1 | cut -d: -f1)"
types_at="${types_at:-$(( $(wc -l < quickstart.cs) + 1 ))}"
{ head -n "$((types_at - 1))" quickstart.cs; cat checks.cs; tail -n "+$types_at" quickstart.cs; } > Program.cs
rm quickstart.cs checks.cs

# --- 3. Build, publish, check the native fix, run --------------------------------------------------------------
dotnet build -c Release -nologo -v quiet
dotnet publish -c Release --no-build -o "$app/publish" -nologo -v quiet

grep -q 'buildTransitive/Microsoft.ML.Edp.targets' obj/EdpQuickStart.csproj.nuget.g.targets \
  || fail "restore did not import the package's buildTransitive targets"
cached="$(find "${global_packages%/}/torchsharp" -path '*/runtimes/linux-x64/native/libLibTorchSharp.so' -print -quit)"
[ -f "$cached" ] || fail "no libLibTorchSharp.so in the global packages folder"
libstdcxx=""
for candidate in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /lib/x86_64-linux-gnu/libstdc++.so.6; do
  [ -f "$candidate" ] && { libstdcxx="$candidate"; break; }
done
for copy in $(find bin/Release "$app/publish" -name libLibTorchSharp.so); do
  if [ -n "$libstdcxx" ] && ! grep -q 'GLIBCXX_3\.4\.32' "$libstdcxx"; then
    # Same size, one flag byte changed: the verneed entry for GLIBCXX_3.4.32 marked weak.
    [ "$(cmp -l "$cached" "$copy" | wc -l)" = 1 ] || fail "$copy is not the patched TorchSharp library"
  else
    cmp -s "$cached" "$copy" || fail "$copy was changed although $libstdcxx provides GLIBCXX_3.4.32"
  fi
done
published="$(find "$app/publish" -name libLibTorchSharp.so -print -quit)"
[ -n "$published" ] || fail "the publish folder holds no libLibTorchSharp.so"
cmp -s "$cached" "$published" \
  && echo "consumer-test: the system libstdc++ provides GLIBCXX_3.4.32; libLibTorchSharp.so left as shipped." \
  || echo "consumer-test: libLibTorchSharp.so patched in the build and publish output (system libstdc++ lacks GLIBCXX_3.4.32)."

# The opt-out leaves the library as shipped.
dotnet build -c Release -nologo -v quiet -p:EdpPatchLibTorchSharpGlibcxx=false -o "$work/optout" >/dev/null
cmp -s "$cached" "$(find "$work/optout" -name libLibTorchSharp.so -print -quit)" \
  || fail "-p:EdpPatchLibTorchSharpGlibcxx=false still changed libLibTorchSharp.so"

# Runs from the publish folder, in the app folder where data/ and model.zip live.
dotnet "$app/publish/EdpQuickStart.dll"
echo "consumer-test: passed."
