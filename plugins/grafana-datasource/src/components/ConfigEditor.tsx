import React, { ChangeEvent } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { InlineField, InlineSwitch, Input, SecretInput, SecretTextArea } from '@grafana/ui';
import { DEFAULT_MIN_STEP, FirnOptions, FirnSecureJsonData } from '../types';

type Props = DataSourcePluginOptionsEditorProps<FirnOptions, FirnSecureJsonData>;

const LABEL_WIDTH = 22;

/**
 * Firn's URL, the tenant API token (a secret: Grafana encrypts it and only its data source proxy
 * reads it), the default profile type and TLS options for the proxy's connection to Firn.
 */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const jsonData = options.jsonData ?? {};
  const secureJsonFields = options.secureJsonFields ?? {};
  const secureJsonData = (options.secureJsonData ?? {}) as FirnSecureJsonData;

  const setJson = (patch: Partial<FirnOptions>) => onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });
  const setSecret = (key: keyof FirnSecureJsonData, value: string) => onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, [key]: value } });
  const resetSecret = (key: keyof FirnSecureJsonData) =>
    onOptionsChange({ ...options, secureJsonFields: { ...secureJsonFields, [key]: false }, secureJsonData: { ...secureJsonData, [key]: '' } });
  const text = (key: 'url' | 'defaultProfileType' | 'minStep') => (e: ChangeEvent<HTMLInputElement>) => setJson({ [key]: e.currentTarget.value });

  return (
    <div data-testid="firn-config-editor">
      <InlineField
        label="Firn URL"
        labelWidth={LABEL_WIDTH}
        tooltip="Firn's query endpoint as seen from the Grafana server: the querier Service, or the all-in-one (port 7070)."
        required
      >
        <Input id="firn-config-url" width={48} value={jsonData.url ?? ''} placeholder="http://firn:7070" onChange={text('url')} />
      </InlineField>
      <InlineField
        label="API token"
        labelWidth={LABEL_WIDTH}
        tooltip="A Firn tenant token with the read:profiles scope (firn tokens create --tenant <tenant> --scopes read:profiles). Sent to Firn by Grafana's server, never to browsers."
        required
      >
        <SecretInput
          id="firn-config-token"
          width={48}
          isConfigured={Boolean(secureJsonFields.apiToken)}
          value={secureJsonData.apiToken ?? ''}
          placeholder="firn_…"
          onChange={(e: ChangeEvent<HTMLInputElement>) => setSecret('apiToken', e.currentTarget.value)}
          onReset={() => resetSecret('apiToken')}
        />
      </InlineField>
      <InlineField
        label="Default profile type"
        labelWidth={LABEL_WIDTH}
        tooltip="Preselected in new queries, e.g. parca_agent:samples:count:cpu:nanoseconds (Firn's agent) or process_cpu:cpu:nanoseconds:cpu:nanoseconds."
      >
        <Input
          id="firn-config-default-profile-type"
          width={48}
          value={jsonData.defaultProfileType ?? ''}
          placeholder="parca_agent:samples:count:cpu:nanoseconds"
          onChange={text('defaultProfileType')}
        />
      </InlineField>
      <InlineField
        label="Minimum step"
        labelWidth={LABEL_WIDTH}
        tooltip="Smallest bucket for series; Firn's agent sends every 10 s, so shorter steps look jagged."
      >
        <Input id="firn-config-min-step" width={12} value={jsonData.minStep ?? ''} placeholder={DEFAULT_MIN_STEP} onChange={text('minStep')} />
      </InlineField>
      <InlineField label="Skip TLS verification" labelWidth={LABEL_WIDTH} tooltip="Accept any certificate from Firn (testing only).">
        <InlineSwitch
          id="firn-config-tls-skip-verify"
          value={Boolean(jsonData.tlsSkipVerify)}
          onChange={(e) => setJson({ tlsSkipVerify: e.currentTarget.checked })}
        />
      </InlineField>
      <InlineField label="Custom CA certificate" labelWidth={LABEL_WIDTH} tooltip="Trust Firn's certificate through this CA (PEM).">
        <InlineSwitch
          id="firn-config-tls-ca"
          value={Boolean(jsonData.tlsAuthWithCACert)}
          onChange={(e) => setJson({ tlsAuthWithCACert: e.currentTarget.checked })}
        />
      </InlineField>
      {jsonData.tlsAuthWithCACert && (
        <InlineField label="CA certificate" labelWidth={LABEL_WIDTH}>
          <SecretTextArea
            cols={45}
            rows={5}
            isConfigured={Boolean(secureJsonFields.tlsCACert)}
            placeholder="-----BEGIN CERTIFICATE-----"
            onChange={(e: ChangeEvent<HTMLTextAreaElement>) => setSecret('tlsCACert', e.currentTarget.value)}
            onReset={() => resetSecret('tlsCACert')}
          />
        </InlineField>
      )}
    </div>
  );
}
