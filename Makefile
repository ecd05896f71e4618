# Every target runs from the project root with the project's venv.
PY ?= .venv/bin/python
RASA ?= $(PY) -m rasa_runtime.cli
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 3
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export RASA_TELEMETRY_ENABLED := false
RASA_ARGS = --config config.yml --domain domain.yml
# Secrets come from the environment, with .secrets/local.env (made by ./setup.sh) as local defaults.
WITH_SECRETS = $(PY) -m security.secrets exec --
# Servers listen on loopback unless told otherwise (RASA_INTERFACE=0.0.0.0 behind a reverse proxy).
RASA_INTERFACE ?= 127.0.0.1
RASA_PORT ?= 5005
ACTIONS_INTERFACE ?= 127.0.0.1
ACTION_SERVER = $(PY) -m actions.server --port 5055 --interface $(ACTIONS_INTERFACE)

.PHONY: improve rollback policy rounds first-policy test-model
.PHONY: setup secrets assets catalog generated logs train test test-python validate test-stories shell run actions experiment nlu-eval export gate faults load

setup:            ## fresh machine: venv, install, assets, logs, model
	./setup.sh

# The public data sets the catalogue is built from (see README "Data").
MUSIC_DATA ?= ../shared/data

catalog:          ## the real catalogue, sessions and open clips from $(MUSIC_DATA) -> data/catalog, data/audio (shipped; kept if the data are absent)
	$(PY) -m music_domain.real_catalog --data $(MUSIC_DATA) --if-missing-keep

generated:        ## a generated 20k-track catalogue fitted to the real one: a scale fixture for benchmarks only
	$(PY) -m music_domain.catalog_generator --tracks 20000 --out data/catalog/generated_20k.parquet

assets:           ## listening histories from real sessions, track vectors, FAISS index -> models/music_assets
	$(PY) -m embeddings.build

logs:             ## 50,000 randomised logging conversations -> data/logs/simulated.parquet
	$(PY) -m simulator.fast_path --conversations 50000 --epsilon 0.3 --out data/logs/simulated.parquet

first-policy:     ## the set-up's round: learn from the set-up's logs; the gate promotes or the rule-based policy serves
	$(PY) -m policy_learning.improve --logs data/logs/simulated.parquet --out results/improve --wait 600

train:            ## the Rasa model (NLU + the registry's current prompt policy) -> models/*.tar.gz
	$(PY) -m policy_learning.registry init
	$(RASA) train --data rasa_project/data $(RASA_ARGS) --out models

test: test-model test-python validate test-stories   ## everything CI runs

TEST_MODEL = models/test/rule_based.tar.gz
test-model:       ## the model the tests talk to: the rule-based prompt policy without exploration (deterministic)
	mkdir -p models/test
	sed -e 's/^\(    policy_version:\).*/\1 rule_based/' config.yml > models/test/config.yml
	grep -q "policy_version: rule_based" models/test/config.yml
	$(RASA) train --data rasa_project/data --config models/test/config.yml --domain domain.yml \
		--out models/test --fixed-model-name rule_based

test-python:
	$(PY) -m pytest -q -p no:cacheprovider tests

.PHONY: test-fast
test-fast:        ## the pytest tests not marked slow (no trained model, agent or server), under 2 minutes
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow" tests

validate:
	$(RASA) data validate --data rasa_project/data $(RASA_ARGS)

test-stories:
	$(RASA) test core --stories tests/test_stories.yml --model $(TEST_MODEL) --out results/core --fail-on-prediction-errors

shell:            ## talk to it (starts the action server in the background)
	$(WITH_SECRETS) $(ACTION_SERVER) & echo $$! > .actions.pid; \
	$(WITH_SECRETS) $(RASA) shell --endpoints rasa_project/endpoints.yml --model models --interface 127.0.0.1; \
	kill `cat .actions.pid`; rm -f .actions.pid

run:              ## REST + voice channels + the HTTP API (token required) on $(RASA_INTERFACE):$(RASA_PORT)
	$(PY) -m security.secrets exec --require RASA_AUTH_TOKEN -- sh -c 'exec $(RASA) run --endpoints rasa_project/endpoints.yml \
		--credentials rasa_project/credentials.yml --model models --interface $(RASA_INTERFACE) --port $(RASA_PORT) \
		--enable-api --auth-token "$$RASA_AUTH_TOKEN"'

actions:          ## the action server (accepts only calls carrying ACTION_SERVER_TOKEN)
	$(WITH_SECRETS) $(ACTION_SERVER)

secrets:          ## create .secrets/local.env (kept if present); rotate with: python -m security.secrets rotate
	$(PY) -m security.secrets init

nlu-eval:         ## held-out NLU test set: intent and attribute F1 -> results/nlu
	$(RASA) test nlu --nlu tests/nlu/test_nlu.yml --model models --out results/nlu
	$(PY) benchmarks/nlu_real_eval.py

export:           ## prompt decisions in the tracker store -> data/logs/exported.parquet
	$(WITH_SECRETS) $(PY) -m policy_learning.log_export --endpoints rasa_project/endpoints.yml --out data/logs/exported.parquet

experiment:       ## the reference experiment (rule-based vs learned vs + history, OPE vs truth) -> results/experiment
	$(PY) benchmarks/reference_experiment.py --conversations 5000 --out results/experiment

improve:          ## one round: export the tracker store, learn, certify off-policy, promote + deploy (reload a running server)
	$(WITH_SECRETS) $(PY) -m policy_learning.improve --logs data/logs/simulated.parquet \
		--export-from rasa_project/endpoints.yml --export-to data/logs/exported.parquet --deploy $(IMPROVE_ARGS)

rollback:         ## serve the version deployed before the current one (and reload a running server)
	$(PY) -m policy_learning.registry rollback && $(WITH_SECRETS) $(PY) -m policy_learning.deploy

policy:           ## which prompt-policy versions exist, and which one is current
	$(PY) -m policy_learning.registry show

rounds:           ## the continuous-improvement experiment in simulation -> results/rounds
	$(PY) benchmarks/rounds.py --rounds 7 --conversations 20000 --eval-listeners 5000 --out results/rounds

gate:             ## train a candidate, OPE on held-out logs, promote or refuse -> results/gate
	$(PY) -m policy_learning.gate --logs data/logs/simulated.parquet --candidate learned_history --out results/gate

faults:           ## fault checks on the running stack (PostgreSQL + Redis + 2 Rasa processes)
	$(PY) benchmarks/fault_test.py

load:             ## load test at 10/50/100 concurrent conversations on STACK=postgres (THINK=0: back to back)
	STACK=postgres scripts/stack_start.sh
	$(PY) benchmarks/load_test.py --levels 10 50 100 --conversations 80 --think $${THINK:-3} \
		--db postgresql://postgres@127.0.0.1:5433/rasa; rc=$$?; scripts/stack_stop.sh; exit $$rc
