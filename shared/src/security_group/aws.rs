//! The EC2 calls on security groups, and the IAM actions they need; SDK rules become the policy's
//! plain [`IngressRule`]s.

use std::collections::{BTreeSet, HashMap};

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, SecurityGroupRule,
    SecurityGroupRuleRequest, SecurityGroupRuleUpdate, Tag,
};

use super::policy::{is_internet_wide, GroupState, IngressRule, Reopen, RuleSource};
use crate::error::AwsError;

/// The IAM actions behind every EC2 call in this file (checked against the code and the template).
pub const IAM_ACTIONS: &[&str] = &[
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeManagedPrefixLists",
    "ec2:GetManagedPrefixListEntries",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:ModifySecurityGroupRules",
];

/// The owner DescribeManagedPrefixLists gives AWS-managed prefix lists (VPC User Guide, "AWS-managed
/// prefix lists": sets of AWS service ranges, which customers can't modify): never the internet.
const AWS_OWNED: &str = "AWS";

fn tag_pair(tag: &Tag) -> Option<(String, String)> {
    Some((
        tag.key()?.to_string(),
        tag.value().unwrap_or("").to_string(),
    ))
}

fn ingress_rule(rule: &SecurityGroupRule) -> Option<IngressRule> {
    if rule.is_egress() == Some(true) {
        return None;
    }
    let source = if let Some(cidr) = rule.cidr_ipv4() {
        RuleSource::Ipv4(cidr.to_string())
    } else if let Some(cidr) = rule.cidr_ipv6() {
        RuleSource::Ipv6(cidr.to_string())
    } else if let Some(list) = rule.prefix_list_id() {
        RuleSource::PrefixList {
            id: list.to_string(),
            internet: Vec::new(),
        }
    } else {
        let group = rule
            .referenced_group_info()
            .and_then(|g| g.group_id())
            .unwrap_or("another source");
        RuleSource::Other(group.to_string())
    };
    Some(IngressRule {
        rule_id: rule.security_group_rule_id()?.to_string(),
        protocol: rule.ip_protocol().unwrap_or("-1").to_string(),
        from_port: rule.from_port().unwrap_or(-1),
        to_port: rule.to_port().unwrap_or(-1),
        source,
        description: rule.description().unwrap_or("").to_string(),
    })
}

#[derive(Clone, Debug)]
pub struct SecurityGroupActions {
    client: aws_sdk_ec2::Client,
}

impl SecurityGroupActions {
    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        SecurityGroupActions {
            client: aws_sdk_ec2::Client::new(sdk),
        }
    }

    pub fn from_client(client: aws_sdk_ec2::Client) -> Self {
        SecurityGroupActions { client }
    }

    /// The group's tags and ingress rules, both asked at once; a missing group is a `NotFound` error.
    pub async fn group_state(&self, group_id: &str) -> Result<GroupState, AwsError> {
        let tags = async {
            let groups = self
                .client
                .describe_security_groups()
                .group_ids(group_id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
            Ok::<_, AwsError>(
                groups
                    .security_groups()
                    .iter()
                    .flat_map(|g| g.tags())
                    .filter_map(tag_pair)
                    .collect(),
            )
        };
        let ingress = async {
            let mut ingress = Vec::new();
            let mut pages = self
                .client
                .describe_security_group_rules()
                .filters(Filter::builder().name("group-id").values(group_id).build())
                .max_results(1000)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("DescribeSecurityGroupRules", e))?;
                ingress.extend(page.security_group_rules().iter().filter_map(ingress_rule));
            }
            Ok(ingress)
        };
        let (tags, mut ingress): (Vec<_>, Vec<IngressRule>) = tokio::try_join!(tags, ingress)?;
        self.read_prefix_lists(ingress.iter_mut().collect()).await?;
        Ok(GroupState { tags, ingress })
    }

    /// Fills in which entries of each referenced customer-managed prefix list count as the
    /// internet: one DescribeManagedPrefixLists for the owners, one GetManagedPrefixListEntries per
    /// customer-managed list (its current version), however many rules and groups use it.
    async fn read_prefix_lists(&self, rules: Vec<&mut IngressRule>) -> Result<(), AwsError> {
        let ids: BTreeSet<String> = rules
            .iter()
            .filter_map(|rule| match &rule.source {
                RuleSource::PrefixList { id, .. } => Some(id.clone()),
                _ => None,
            })
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let mut customer_managed = Vec::new();
        let mut pages = self
            .client
            .describe_managed_prefix_lists()
            .set_prefix_list_ids(Some(ids.into_iter().collect()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeManagedPrefixLists", e))?;
            customer_managed.extend(
                page.prefix_lists()
                    .iter()
                    .filter(|list| list.owner_id() != Some(AWS_OWNED))
                    .filter_map(|list| list.prefix_list_id().map(String::from)),
            );
        }
        // Each list's entries at the same time.
        let entries = customer_managed.into_iter().map(|id| async move {
            let mut wide = Vec::new();
            let mut pages = self
                .client
                .get_managed_prefix_list_entries()
                .prefix_list_id(&id)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| AwsError::from_sdk("GetManagedPrefixListEntries", e))?;
                wide.extend(
                    page.entries()
                        .iter()
                        .filter_map(|entry| entry.cidr())
                        .filter(|cidr| is_internet_wide(cidr))
                        .map(String::from),
                );
            }
            Ok::<_, AwsError>((id, wide))
        });
        let internet: HashMap<String, Vec<String>> = futures_util::future::try_join_all(entries)
            .await?
            .into_iter()
            .collect();
        for rule in rules {
            if let RuleSource::PrefixList { id, internet: wide } = &mut rule.source {
                *wide = internet.get(id.as_str()).cloned().unwrap_or_default();
            }
        }
        Ok(())
    }

    /// Every group of the region with its state, in a number of calls that grows with pages, not groups.
    pub async fn all_groups(&self) -> Result<Vec<(String, GroupState)>, AwsError> {
        let mut states: Vec<(String, GroupState)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut pages = self
            .client
            .describe_security_groups()
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
            for group in page.security_groups() {
                let Some(id) = group.group_id() else { continue };
                index.insert(id.to_string(), states.len());
                states.push((
                    id.to_string(),
                    GroupState {
                        tags: group.tags().iter().filter_map(tag_pair).collect(),
                        ingress: Vec::new(),
                    },
                ));
            }
        }
        let mut pages = self
            .client
            .describe_security_group_rules()
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("DescribeSecurityGroupRules", e))?;
            for rule in page.security_group_rules() {
                let (Some(group_id), Some(ingress)) = (rule.group_id(), ingress_rule(rule)) else {
                    continue;
                };
                if let Some(&i) = index.get(group_id) {
                    states[i].1.ingress.push(ingress);
                }
            }
        }
        let rules = states
            .iter_mut()
            .flat_map(|(_, state)| state.ingress.iter_mut())
            .collect();
        self.read_prefix_lists(rules).await?;
        Ok(states)
    }

    /// Opens allowed ports again, all in one call; a rule that already exists is fine (when the
    /// batch fails for that reason, each port is opened on its own).
    pub async fn authorize(&self, group_id: &str, reopens: &[Reopen]) -> Result<(), AwsError> {
        match self.authorize_batch(group_id, reopens).await {
            Err(err) if err.has_code("InvalidPermission.Duplicate") && reopens.len() > 1 => {
                for reopen in reopens {
                    match self
                        .authorize_batch(group_id, std::slice::from_ref(reopen))
                        .await
                    {
                        Err(err) if !err.has_code("InvalidPermission.Duplicate") => {
                            return Err(err)
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            Err(err) if err.has_code("InvalidPermission.Duplicate") => Ok(()),
            other => other,
        }
    }

    async fn authorize_batch(&self, group_id: &str, reopens: &[Reopen]) -> Result<(), AwsError> {
        let permissions = reopens.iter().map(|reopen| {
            let permission = IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(i32::from(*reopen.ports.start()))
                .to_port(i32::from(*reopen.ports.end()));
            let description = reopen.description();
            match &reopen.source {
                RuleSource::Ipv6(cidr) => permission.ipv6_ranges(
                    Ipv6Range::builder()
                        .cidr_ipv6(cidr)
                        .description(description)
                        .build(),
                ),
                RuleSource::PrefixList { id, .. } => permission.prefix_list_ids(
                    PrefixListId::builder()
                        .prefix_list_id(id)
                        .description(description)
                        .build(),
                ),
                RuleSource::Ipv4(cidr) | RuleSource::Other(cidr) => permission.ip_ranges(
                    IpRange::builder()
                        .cidr_ip(cidr)
                        .description(description)
                        .build(),
                ),
            }
            .build()
        });
        self.client
            .authorize_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions.collect()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| AwsError::from_sdk("AuthorizeSecurityGroupIngress", err))
    }

    /// Rewrites rules in place, all in one call (no free rule slot needed): each becomes the allowed
    /// TCP range of its [`Reopen`], from the same source.
    pub async fn rewrite(
        &self,
        group_id: &str,
        rewrites: &[(String, Reopen)],
    ) -> Result<(), AwsError> {
        let updates = rewrites.iter().map(|(rule_id, reopen)| {
            let rule = SecurityGroupRuleRequest::builder()
                .ip_protocol("tcp")
                .from_port(i32::from(*reopen.ports.start()))
                .to_port(i32::from(*reopen.ports.end()))
                .description(reopen.description());
            let rule = match &reopen.source {
                RuleSource::Ipv6(cidr) => rule.cidr_ipv6(cidr),
                RuleSource::PrefixList { id, .. } => rule.prefix_list_id(id),
                RuleSource::Ipv4(cidr) | RuleSource::Other(cidr) => rule.cidr_ipv4(cidr),
            };
            SecurityGroupRuleUpdate::builder()
                .security_group_rule_id(rule_id)
                .security_group_rule(rule.build())
                .build()
        });
        self.client
            .modify_security_group_rules()
            .group_id(group_id)
            .set_security_group_rules(Some(updates.collect()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("ModifySecurityGroupRules", e))
    }

    /// Revokes rules by id. A rule that is already gone counts as revoked: when the batch fails
    /// for that reason, each rule is revoked on its own.
    pub async fn revoke(&self, group_id: &str, rule_ids: &[String]) -> Result<(), AwsError> {
        match self.revoke_batch(group_id, rule_ids).await {
            Err(err) if err.is_not_found() && rule_ids.len() > 1 => {
                for rule_id in rule_ids {
                    match self
                        .revoke_batch(group_id, std::slice::from_ref(rule_id))
                        .await
                    {
                        Err(err) if err.is_not_found() => {}
                        other => other?,
                    }
                }
                Ok(())
            }
            Err(err) if err.is_not_found() && !err.has_code("InvalidGroup.NotFound") => Ok(()),
            other => other,
        }
    }

    async fn revoke_batch(&self, group_id: &str, rule_ids: &[String]) -> Result<(), AwsError> {
        self.client
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_security_group_rule_ids(Some(rule_ids.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("RevokeSecurityGroupIngress", e))?;
        Ok(())
    }
}
