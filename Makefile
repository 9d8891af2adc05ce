# dwc — see README.md. `make demo` and `make test` work on a fresh Debian 12 machine.
SWIFT ?= swift
DWC_RELEASE := .build/release/dwc
DWC_DEBUG := .build/debug/dwc
DEMO := demo

.PHONY: all bootstrap build release test unit conformance demo bench dictionary clean

all: build

bootstrap:
	@Scripts/bootstrap

build: bootstrap
	$(SWIFT) build

# The Swift runtime linked statically: a dwc process starts in about 5 ms instead of 10.
release: bootstrap
	$(SWIFT) build -c release --static-swift-stdlib

# Conformance against pydicom first, then the Swift test suite (whose summary closes the run).
test: bootstrap
	$(SWIFT) build
	python3 Scripts/conformance.py --dwc $(DWC_DEBUG)
	python3 Scripts/frames_conformance.py --dwc $(DWC_DEBUG)
	python3 Scripts/metadata_conformance.py --dwc $(DWC_DEBUG)
	python3 Scripts/render_conformance.py --dwc $(DWC_DEBUG)
	$(SWIFT) test

unit: bootstrap
	$(SWIFT) test

conformance: build
	python3 Scripts/conformance.py --dwc $(DWC_DEBUG)
	python3 Scripts/frames_conformance.py --dwc $(DWC_DEBUG)
	python3 Scripts/metadata_conformance.py --dwc $(DWC_DEBUG)
	python3 Scripts/render_conformance.py --dwc $(DWC_DEBUG)

demo: release
	@Scripts/demo $(DWC_RELEASE) $(DEMO)

bench: release
	python3 Scripts/bench_parse.py --dwc $(DWC_RELEASE)
	python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore dicomweb-client highdicom pillow numpy fsspec aiohttp
	test -d /tmp/dwc-corpus/wsi || python3 ../shared/bench/make_corpus.py -o /tmp/dwc-corpus
	python3 Scripts/bench_frames.py --dwc $(DWC_RELEASE) --corpus /tmp/dwc-corpus
	python3 Scripts/bench_index_search.py --dwc $(DWC_RELEASE) --archive /tmp/dwc-corpus/archive
	python3 Scripts/bench_metadata.py --dwc $(DWC_RELEASE) --corpus /tmp/dwc-corpus
	python3 Scripts/bench_render.py --dwc $(DWC_RELEASE) --corpus /tmp/dwc-corpus
	python3 Scripts/bench_store.py --dwc $(DWC_RELEASE)
	python3 Scripts/bench_remote.py --dwc $(DWC_RELEASE) --corpus /tmp/dwc-corpus

# Regenerate the data dictionary from pydicom's copy of the standard.
dictionary:
	python3 Scripts/gen-dictionary.py

clean:
	rm -rf .build $(DEMO)
