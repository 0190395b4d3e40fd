#!/usr/bin/env python3
"""Our endpoint table (the endpoint-table program) against botocore's own resolver, for every
region botocore knows in every partition, a made-up region per partition, FIPS pseudo-regions,
both services and every FIPS/dual-stack combination. Usage: endpoints_botocore.py ENDPOINT_TABLE"""
import json
import os
import subprocess
import sys

import botocore
import botocore.session

EXPECTED_PARTITIONS = {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e",
                       "aws-iso-f", "aws-eusc"}
# One made-up region per partition, as a new region would look.
INVENTED = ["us-west-9", "cn-south-7", "us-gov-central-3", "us-iso-north-4", "us-isob-west-5",
            "eu-isoe-north-6", "us-isof-east-8", "eusc-de-west-2"]


def main():
    table = sys.argv[1]
    with open(os.path.join(os.path.dirname(botocore.__file__), "data", "partitions.json")) as f:
        partitions = json.load(f)["partitions"]
    seen = {p["id"] for p in partitions}
    missing = EXPECTED_PARTITIONS - seen
    if missing:
        sys.exit(f"botocore {botocore.__version__} lacks partitions {sorted(missing)}")
    regions = [r for p in partitions for r in p["regions"] if not r.endswith("-global")]
    regions += INVENTED
    pseudo = ["fips-us-gov-west-1", "us-east-1-fips", "fips-ca-central-1"]

    out = subprocess.run([table], input="\n".join(regions + pseudo) + "\n", capture_output=True,
                         text=True, check=True).stdout
    ours = [json.loads(line) for line in out.splitlines()]

    session = botocore.session.get_session()
    providers = {}
    for service in ("rolesanywhere", "sts"):
        client = session.create_client(service, region_name="us-east-1",
                                       aws_access_key_id="x", aws_secret_access_key="y")
        providers[service] = client._ruleset_resolver._provider

    checked, bad = 0, []
    partition_of = {}
    for row in ours:
        region = row["region"]
        if region in pseudo:
            continue
        params = {"Region": region, "UseFIPS": row["fips"], "UseDualStack": row["dualstack"]}
        if row["service"] == "sts":
            params["UseGlobalEndpoint"] = False
        theirs = providers[row["service"]].resolve_endpoint(**params).url
        if theirs != row["url"]:
            bad.append(f"{row['service']} {region} fips={row['fips']} "
                       f"dualstack={row['dualstack']}: ours {row['url']}, botocore {theirs}")
        partition_of[region] = row["partition"]
        checked += 1

    # Partitions: ours against botocore's region pattern matching.
    for p in partitions:
        for region in p["regions"]:
            if region.endswith("-global"):
                continue
            if partition_of.get(region) != p["id"]:
                bad.append(f"{region}: our partition {partition_of.get(region)}, botocore {p['id']}")

    # FIPS pseudo-regions: what a botocore client built with that region name resolves to.
    for region in pseudo:
        for service in ("rolesanywhere", "sts"):
            client = session.create_client(service, region_name=region,
                                           aws_access_key_id="x", aws_secret_access_key="y")
            theirs = client.meta.endpoint_url
            mine = next(r["url"] for r in ours if r["region"] == region and
                        r["service"] == service and not r["fips"] and not r["dualstack"])
            checked += 1
            if theirs != mine:
                bad.append(f"{service} {region}: ours {mine}, botocore {theirs}")

    for line in bad:
        print("MISMATCH", line)
    print(f"{checked} endpoints compared with botocore {botocore.__version__}, "
          f"{len(bad)} mismatches")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
